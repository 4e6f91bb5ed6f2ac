package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/sandbox"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestWildSweep sends the qpdf test suite's PDFs (many damaged on purpose)
// through the parser process with the daemon's default limits: every file
// gets a verdict (valid, or a known reason), none an error, and the
// parser's resident memory stays under its limit.
func TestWildSweep(t *testing.T) {
	wild := testenv.Wild(t)
	files, err := filepath.Glob(filepath.Join(wild, "*.pdf"))
	if err != nil || len(files) < 700 {
		t.Fatalf("%s: %d files, %v", wild, len(files), err)
	}
	if testing.Short() {
		files = files[:100]
	}
	p := newPool(t, sandbox.Limits{})
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "repaired.pdf")
	count := map[reason.Code]int{}
	for _, f := range files {
		r, err := p.Check(ctx, f, dst)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if r.Reason != "" && !r.Reason.IsRejection() {
			t.Errorf("%s: reason %q is not a rejection", filepath.Base(f), r.Reason)
		}
		if r.Reason == "" {
			if _, err := p.ReadFirst(ctx, f, 0); err != nil {
				t.Errorf("%s: barcodes: %v", filepath.Base(f), err)
			}
		}
		count[r.Reason]++
		os.Remove(dst)
	}
	if peak := p.PeakRSS(); peak == 0 || peak > sandbox.DefaultMemory {
		t.Errorf("parser process peak RSS %d MiB, want above 0 and under %d MiB", peak>>20, sandbox.DefaultMemory>>20)
	}
	t.Logf("%d files: %v; parser processes started %d, peak RSS %d MiB", len(files), count, p.Started(), p.PeakRSS()>>20)
}
