package barcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestWild reads every file of the qpdf test suite (damaged on purpose,
// encrypted, odd): each gives an answer, without panic, within its bound.
func TestWild(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Wild(t), "*.pdf"))
	const perFile = 10 * time.Second
	var r Reader
	start := time.Now()
	var pages, images, panics, failed int
	var slowest time.Duration
	var slowFile string
	for _, f := range files {
		ctx, cancel := context.WithTimeout(context.Background(), perFile)
		t0 := time.Now()
		ps, err := r.Read(ctx, f)
		d := time.Since(t0)
		cancel()
		if d > slowest {
			slowest, slowFile = d, filepath.Base(f)
		}
		if d > perFile+time.Second {
			t.Errorf("%s: %v, over the bound of %v", filepath.Base(f), d, perFile)
		}
		if err != nil {
			failed++
			t.Logf("%s: %v", filepath.Base(f), err)
			continue
		}
		pages += len(ps)
		for _, p := range ps {
			if p.Image {
				images++
			}
			if strings.Contains(p.Detail, "panic") {
				panics++
				t.Logf("%s page %d: %.200s", filepath.Base(f), p.Index, p.Detail)
			}
		}
	}
	t.Logf("%d files, %d pages, %d with an image, %d decoder panics recovered, %d errors, in %v; slowest %s %v",
		len(files), pages, images, panics, failed, time.Since(start).Round(time.Millisecond), slowFile, slowest.Round(time.Millisecond))
}

// TestNothingWritten checks that reading writes nothing: pdfcpu is given
// its configuration and creates no configuration directory.
func TestNothingWritten(t *testing.T) {
	testenv.SkipUnderRace(t, "a sweep of the corpus for files written under HOME (TestConcurrent races the reader)")
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	files, _ := filepath.Glob(filepath.Join(testenv.Corpus(t), "*.pdf"))
	var r Reader
	for _, f := range files {
		if _, err := r.Read(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(home); len(left) != 0 {
		t.Errorf("written under HOME: %v", left)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	sample := filepath.Join(testenv.Corpus(t), "scan_0003.pdf")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		r    Reader
		ctx  context.Context
		path string
		want error
	}{
		{"missing", Reader{}, context.Background(), filepath.Join(dir, "missing.pdf"), os.ErrNotExist},
		{"directory", Reader{}, context.Background(), dir, nil},
		{"over the size cap", Reader{MaxBytes: 1000}, context.Background(), sample, nil},
		{"cancelled", Reader{}, cancelled, sample, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.r.Read(tt.ctx, tt.path)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestLimits: an image over the pixel cap is not decoded, and says so;
// blank detection can be turned off.
func TestLimits(t *testing.T) {
	sample := filepath.Join(testenv.Corpus(t), "duplex_0001.pdf")
	r := Reader{MaxPixels: 1_000_000, BlankCoverage: -1}
	pages, err := r.Read(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if !p.Image || len(p.Codes) != 0 || p.Blank || !strings.Contains(p.Detail, "over the cap") {
			t.Errorf("page %d: %+v", p.Index, p)
		}
	}
	r = Reader{BlankCoverage: -1, Workers: 2}
	if pages, err = r.Read(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if p.Blank {
			t.Errorf("page %d blank with blank detection off", p.Index)
		}
	}
	if len(pages[0].Codes) != 1 {
		t.Errorf("page 1: %+v", pages[0])
	}
}

// TestConcurrent reads one file from several goroutines, pages in
// parallel: the same answer each time (run under -race).
func TestConcurrent(t *testing.T) {
	r := Reader{Workers: 2}
	sample := filepath.Join(testenv.Corpus(t), "batch_0001.pdf")
	want, err := r.Read(context.Background(), sample)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			got, err := r.Read(context.Background(), sample)
			if err == nil && fmt.Sprint(got) != fmt.Sprint(want) {
				err = fmt.Errorf("got %+v, want %+v", got, want)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
