package barcode

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestThumbnail: a scan's first page comes out small and recognisable (a
// white page with dark print), a born-digital page and a file that does
// not parse give none, without an error.
func TestThumbnail(t *testing.T) {
	ctx := context.Background()
	var r Reader
	th, err := r.Thumbnail(ctx, filepath.Join(testenv.Corpus(t), "scan_0009.pdf"), 240)
	if err != nil {
		t.Fatal(err)
	}
	if th.W <= 0 || th.H <= 0 || th.W > 240 || th.H > 240 || len(th.Pix) != th.W*th.H {
		t.Fatalf("thumbnail %dx%d with %d bytes, want within 240x240 and W*H bytes", th.W, th.H, len(th.Pix))
	}
	if th.H < 200 || th.H <= th.W {
		t.Errorf("thumbnail %dx%d: an A4 portrait page should fill the height", th.W, th.H)
	}
	white, dark := 0, 0
	for _, v := range th.Pix {
		switch {
		case v > 200:
			white++
		case v < 128:
			dark++
		}
	}
	if white < len(th.Pix)*8/10 || dark == 0 {
		t.Errorf("thumbnail has %d white and %d dark pixels of %d: not a printed page", white, dark, len(th.Pix))
	}

	dir := t.TempDir()
	born := filepath.Join(dir, "born.pdf")
	bornDigital(t, born, 1)
	for _, f := range []string{born, filepath.Join(testenv.Corpus(t), "truncated 000.00.12.H57-200322-0003.pdf")} {
		th, err := r.Thumbnail(ctx, f, 240)
		if err != nil || th.W != 0 || th.Pix != nil {
			t.Errorf("%s: thumbnail %dx%d, %v; want none and no error", filepath.Base(f), th.W, th.H, err)
		}
	}
	if _, err := r.Thumbnail(ctx, filepath.Join(dir, "missing.pdf"), 240); err == nil {
		t.Error("a missing file gave no error")
	}
}
