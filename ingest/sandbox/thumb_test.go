package sandbox_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/sandbox"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestThumbnail: the parser process makes the same thumbnail as the reader
// in process, and a process killed on the file gives none.
func TestThumbnail(t *testing.T) {
	ctx := context.Background()
	f := filepath.Join(testenv.Corpus(t), "scan_0009.pdf")
	want, err := (&barcode.Reader{}).Thumbnail(ctx, f, 200)
	if err != nil || want.W == 0 {
		t.Fatalf("in process: %dx%d, %v", want.W, want.H, err)
	}
	got, err := newPool(t, sandbox.Limits{}).Thumbnail(ctx, f, 200)
	if err != nil {
		t.Fatal(err)
	}
	if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
		t.Errorf("parser process gave %dx%d, in process %dx%d", got.W, got.H, want.W, want.H)
	}
	// A process that cannot even start its parse within the memory cap
	// is killed: no thumbnail, no error.
	got, err = newPool(t, sandbox.Limits{Memory: 1 << 20}).Thumbnail(ctx, f, 200)
	if err != nil || got.W != 0 || got.Pix != nil {
		t.Errorf("over the memory cap: %dx%d, %v; want none and no error", got.W, got.H, err)
	}
}
