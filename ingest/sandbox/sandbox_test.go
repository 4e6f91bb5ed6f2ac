package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/sandbox"
)

const samples = "../../../shared/corpus/samples"

// newPool returns a pool whose parser processes are this test binary.
func newPool(t testing.TB, lim sandbox.Limits) *sandbox.Pool {
	t.Helper()
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestSamplesAsInProcess: every corpus sample gets the same verdict and the
// same codes through the parser process as in process.
func TestSamplesAsInProcess(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samples, "*.pdf"))
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus samples: %d files, %v", len(files), err)
	}
	p := newPool(t, sandbox.Limits{})
	local := &pdfcheck.Checker{}
	reader := &barcode.Reader{}
	ctx := context.Background()
	dir := t.TempDir()
	for i, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := local.Check(ctx, f, "")
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, strings.Repeat("r", i+1)+".pdf")
			got, err := p.Check(ctx, f, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.Reason != want.Reason || got.Pages != want.Pages || got.MinDPI != want.MinDPI || got.Repaired != want.Repaired {
				t.Errorf("isolated %+v, in process %+v", got, want)
			}
			if _, err := os.Stat(dst); (err == nil) != got.Repaired {
				t.Errorf("repaired %v, repaired copy written: %v", got.Repaired, err == nil)
			}
			if want.Reason != "" {
				return
			}
			wp, err := reader.ReadFirst(ctx, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			gp, err := p.ReadFirst(ctx, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if codes(gp) != codes(wp) || len(gp) != len(wp) {
				t.Errorf("isolated pages %d codes %q, in process %d %q", len(gp), codes(gp), len(wp), codes(wp))
			}
		})
	}
	if n := p.Started(); n != 1 {
		t.Errorf("%d parser processes started for healthy files, want 1 (a long-lived one)", n)
	}
	if p.PeakRSS() <= 0 {
		t.Error("no peak RSS read of the parser process")
	}
	t.Logf("parser process peak RSS over the samples: %d MiB", p.PeakRSS()>>20)
}

func codes(pages []barcode.Page) string {
	var s []string
	for _, p := range pages {
		for _, c := range p.Codes {
			s = append(s, c.Code)
		}
		if p.Blank {
			s = append(s, "blank")
		}
	}
	return strings.Join(s, ",")
}

var _ = time.Second
