package ingest

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// BenchmarkIngest takes realistic scans through copy, hash, fsync, check,
// link and record, as the daemon does for each file (upload excluded).
// MB/s is of scan bytes.
func BenchmarkIngest(b *testing.B) {
	names := []string{"000.00.12.H57-200320-0001.pdf", "HS 000.00.12.H57-200320-0002 to khai.pdf"}
	var total int64
	for _, n := range names {
		info, err := os.Stat(filepath.Join(testenv.Corpus(b), n))
		if err != nil {
			b.Fatal(err)
		}
		total += info.Size()
	}
	f := newFixture(b)
	b.SetBytes(total / int64(len(names)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		name := names[i%len(names)]
		src, _ := os.ReadFile(filepath.Join(testenv.Corpus(b), name))
		src = append(src, []byte("%"+string(rune('a'+i%26))+filepath.Base(b.TempDir())+"\n")...)
		p := filepath.Join(f.inbox, name)
		os.WriteFile(p, src, 0o640)
		b.StartTimer()
		if err := f.ingest(name); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloor is the least work the rules leave for a burst of scans, in
// one process with no daemon around it: each file copied into a spool
// folder, then hashed (SHA-256), fsynced and checked with its blank pages
// searched, the three at once, two files at a time as the daemon's two
// watch workers take them.
// No watcher, store, parser process or upload. One op is the whole set:
// the PDFs in $SOHOA_BENCH_DIR (bench.sh's scans), else the valid samples.
// bench.sh prints it beside the daemon and pdfcpu validate.
func BenchmarkFloor(b *testing.B) {
	dir := cmp.Or(os.Getenv("SOHOA_BENCH_DIR"), testenv.Corpus(b))
	files, err := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no PDFs in %s: %v", dir, err)
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
	}
	spool := b.TempDir()
	checker := &pdfcheck.Checker{Blanks: &barcode.BlankFinder{}}
	ctx := context.Background()
	take := func(f string) error {
		in, err := os.Open(f)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.CreateTemp(spool, "floor-")
		if err != nil {
			return err
		}
		defer os.Remove(out.Name())
		defer out.Close()
		_, sum, err := atomicfile.CopyThenHash(ctx, out, in)
		if err != nil {
			return err
		}
		// As the daemon does: checked while hashed and fsynced.
		checked := make(chan error, 1)
		go func() {
			_, err := checker.Check(ctx, out.Name(), "")
			checked <- err
		}()
		_, herr := sum()
		serr := out.Sync()
		return errors.Join(<-checked, herr, serr)
	}
	b.SetBytes(total)
	for b.Loop() {
		work := make(chan string)
		errs := make(chan error, len(files))
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for f := range work {
					errs <- take(f)
				}
			})
		}
		for _, f := range files {
			work <- f
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
