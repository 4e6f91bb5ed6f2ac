//go:build linux

package ingest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/upload"
)

// openingChecker opens the inbox file for writing while the scan is
// checked: after the take's lease check, as a program that saves slowly
// might, and keeps it open after the inbox name is gone.
type openingChecker struct {
	Checker
	path string
	w    **os.File
}

func (c openingChecker) Check(ctx context.Context, src, dst string) (pdfcheck.Result, error) {
	if w, err := os.OpenFile(c.path, os.O_WRONLY, 0); err == nil {
		*c.w = w
	}
	return c.Checker.Check(ctx, src, dst)
}

// TestLateWriterOfARepairedScan: the repaired copy, sohoa's own, is
// delivered; the scan's own copy, written into late, is archived under
// another name than its recorded content's.
func TestLateWriterOfARepairedScan(t *testing.T) {
	f, sc, w := takeWithLateWriter(t, "000.00.12.H57-200322-0001.pdf") // SANE's: repaired
	if !sc.Repaired {
		t.Fatalf("scan %+v: want repaired", sc)
	}
	if _, err := w.WriteAt([]byte("written late"), 100); err != nil {
		t.Fatal(err)
	}
	outbox := filepath.Join(filepath.Dir(f.data), "outbox")
	runWorker(t, f, upload.DirSink{Root: outbox, Link: true})
	if s := f.stats(); s.Uploads != 1 {
		t.Fatalf("stats %+v", s)
	}
	archive := filepath.Join(f.data, "archive")
	if _, err := os.Lstat(filepath.Join(archive, sc.SHA256+".pdf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("changed bytes archived under the recorded content's name: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(archive, sc.SHA256+".changed.pdf")); err != nil {
		t.Errorf("the changed file is not kept: %v", err)
	}
}

// TestLateWriterNeverReachesDeliveredOrArchivedCopy: a program that opened
// a scan taken by a hard link after the lease check, and writes into it
// after its inbox name is gone, changes neither what the link-mode folder
// sink delivers nor the archived copy: written before the delivery (still
// open, or closed since), the scan is parked, not delivered; written after
// it, the outbox and the archive still hold the recorded bytes.
func TestLateWriterNeverReachesDeliveredOrArchivedCopy(t *testing.T) {
	for _, when := range []string{"before delivery, still open", "before delivery, closed", "after delivery"} {
		t.Run(when, func(t *testing.T) {
			name := "000.00.12.H57-200320-0001.pdf"
			f, sc, w := takeWithLateWriter(t, name)
			write := func() {
				if _, err := w.WriteAt([]byte("written late"), 1000); err != nil {
					t.Fatal(err)
				}
			}
			if strings.HasPrefix(when, "before") {
				write()
				if strings.HasSuffix(when, "closed") {
					w.Close()
				}
			}
			outbox := filepath.Join(filepath.Dir(f.data), "outbox")
			runWorker(t, f, upload.DirSink{Root: outbox, Link: true})
			s := f.stats()
			delivered := filepath.Join(outbox, sc.Dossiers[0], name)
			if strings.HasPrefix(when, "before") {
				parked, _ := f.st.Parked()
				if s.Parked != 1 || s.Uploads != 0 || len(parked) != 1 || !strings.Contains(parked[0].LastError, "written into") {
					t.Fatalf("stats %+v, parked %+v: want the scan parked as changed", s, parked)
				}
				if _, err := os.Lstat(delivered); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("changed bytes delivered: %v", err)
				}
				return
			}
			if s.Uploads != 1 {
				t.Fatalf("stats %+v", s)
			}
			write()
			for _, q := range []string{delivered, filepath.Join(f.data, "archive", sc.SHA256+".pdf")} {
				if got, _, err := hashFile(q); err != nil || got != sc.SHA256 {
					t.Errorf("%s: sha256 %s %v, recorded %s", q, got, err, sc.SHA256)
				}
			}
		})
	}
}

// takeWithLateWriter ingests the corpus sample name, queued, with a
// writer that opened the inbox file after the take's lease check and keeps
// it open (closed at the test's end) once the inbox name is gone. It
// fails unless the scan was taken by a link: the writer's file is the
// spool's.
func takeWithLateWriter(t *testing.T, name string) (*fixture, store.Scan, *os.File) {
	t.Helper()
	f := newFixture(t)
	p := f.drop(name, name)
	var w *os.File
	f.in.cfg.Checker = openingChecker{f.in.cfg.Checker, p, &w}
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if w == nil {
		t.Fatal("the inbox file was not opened for writing")
	}
	t.Cleanup(func() { w.Close() })
	sc := f.record()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) || sc.State != store.Queued {
		t.Fatalf("scan %s, inbox name: %v; want queued and gone", sc.State, err)
	}
	if !os.SameFile(stat(t, f.in.SpoolPath(sc.SHA256, false)), fstat(t, w)) {
		t.Fatal("not taken by a link: the writer's file is not the spool's")
	}
	outbox := filepath.Join(filepath.Dir(f.data), "outbox") // the data dir's file system: linked
	if err := os.Mkdir(outbox, 0o750); err != nil {
		t.Fatal(err)
	}
	return f, sc, w
}

// runWorker delivers the queue into sink, archiving as the daemon does,
// until nothing is queued.
func runWorker(t *testing.T, f *fixture, sink upload.Sink) {
	t.Helper()
	w := upload.NewWorker(upload.Worker{Queue: f.st, Sink: sink, Ward: "000.00.12.H57", Path: f.in.ContentPath,
		Done: func(j store.Job) {
			if err := f.in.Archive(j.SHA256); err != nil {
				t.Error(err)
			}
		},
		Backoff: province.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); f.stats().QueueLength > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not drain: %+v", f.stats())
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

func stat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func fstat(t *testing.T, f *os.File) os.FileInfo {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi
}
