package watcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Tests run on the real file system with real fsnotify. They never assert
// timings: they wait for conditions with generous deadlines, and prove that
// something did not happen by letting full walks and quiet periods go by.

const (
	testQuiet    = 200 * time.Millisecond
	waitDeadline = 20 * time.Second
)

// modes runs fn once with fsnotify and once in poll mode. In events mode the
// rescan is an hour away, so what is offered was found through events (or by
// the first walk).
func modes(t *testing.T, fn func(t *testing.T, cfg Config)) {
	t.Helper()
	for _, poll := range []bool{false, true} {
		name := map[bool]string{false: "events", true: "poll"}[poll]
		t.Run(name, func(t *testing.T) {
			cfg := Config{Root: filepath.Join(t.TempDir(), "inbox"), Poll: poll, Quiet: testQuiet, Interval: time.Hour}
			if poll {
				cfg.Interval = 150 * time.Millisecond
			}
			mkdir(t, cfg.Root)
			fn(t, cfg)
		})
	}
}

type offer struct {
	File
	walks int64 // full walks finished when it was offered
}

// harness runs a Watcher and records what it offers.
type harness struct {
	t      *testing.T
	w      *Watcher
	root   string
	logs   *syncBuffer
	stop   func() error // cancels Run and waits for it; safe to call twice
	mu     sync.Mutex
	offers []offer
}

// start runs a watcher on cfg. then, if not nil, is called after an offer is
// recorded and its result is returned to the watcher.
func start(t *testing.T, cfg Config, then Handler) *harness {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, w: w, root: w.cfg.Root, logs: logs}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		ran <- w.Run(ctx, func(ctx context.Context, f File) error {
			h.mu.Lock()
			h.offers = append(h.offers, offer{File: f, walks: w.stats.walks.Load()})
			h.mu.Unlock()
			if then != nil {
				return then(ctx, f)
			}
			return nil
		})
	}()
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-ran:
			case <-time.After(waitDeadline):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

// offered returns the offers of rel, in order.
func (h *harness) offered(rel string) []offer {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []offer
	for _, o := range h.offers {
		if o.Rel == rel {
			out = append(out, o)
		}
	}
	return out
}

func (h *harness) rels() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, o := range h.offers {
		out = append(out, o.Rel)
	}
	return out
}

// wait waits until rel was offered at least n times.
func (h *harness) wait(rel string, n int) []offer {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%q offered %d time(s); offered so far: %q", rel, n, h.rels()), func() bool {
		return len(h.offered(rel)) >= n
	})
	return h.offered(rel)
}

// quiesce lets anything wrongly pending come out: two full walks when they
// are frequent, then a few quiet periods.
func (h *harness) quiesce() {
	h.t.Helper()
	if h.w.cfg.Interval <= time.Second {
		from := h.w.stats.walks.Load()
		waitFor(h.t, "two full walks", func() bool { return h.w.stats.walks.Load() >= from+2 })
	}
	time.Sleep(3 * h.w.cfg.Quiet)
}

func (h *harness) path(rel string) string { return filepath.Join(h.root, filepath.FromSlash(rel)) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	write(t, file, "x")
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"no root", Config{}, true},
		{"root is a file", Config{Root: file}, true},
		{"negative quiet", Config{Root: dir, Quiet: -time.Second}, true},
		{"negative interval", Config{Root: dir, Interval: -time.Second}, true},
		{"missing root is created", Config{Root: filepath.Join(dir, "a", "inbox")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New: err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			info, err := os.Stat(tc.cfg.Root)
			if err != nil || !info.IsDir() || info.Mode().Perm()&^0o750 != 0 {
				t.Fatalf("inbox not created as a 0750 folder: %v, %v", info, err)
			}
			if w.cfg.Quiet != DefaultQuiet || w.cfg.Interval != DefaultInterval {
				t.Errorf("defaults: quiet %v interval %v", w.cfg.Quiet, w.cfg.Interval)
			}
		})
	}
	w, err := New(Config{Root: dir, Poll: true})
	if err != nil || w.cfg.Interval != DefaultPollInterval {
		t.Errorf("poll default interval: %v, %v", w.cfg.Interval, err)
	}
}

func TestOffersNewFilesOnce(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		write(t, filepath.Join(cfg.Root, "before.pdf"), "b")
		h := start(t, cfg, nil)

		write(t, h.path("a.pdf"), "hello")
		write(t, h.path("new/deeper/b.pdf"), "nested")
		// A folder moved in whole, with files already in it.
		outside := filepath.Join(t.TempDir(), "moved")
		write(t, filepath.Join(outside, "c.pdf"), "ccc")
		write(t, filepath.Join(outside, "sub", "d.pdf"), "dddd")
		if err := os.Rename(outside, h.path("moved")); err != nil {
			t.Fatal(err)
		}

		want := map[string]int64{"before.pdf": 1, "a.pdf": 5, "new/deeper/b.pdf": 6, "moved/c.pdf": 3, "moved/sub/d.pdf": 4}
		for rel := range want {
			h.wait(rel, 1)
		}
		h.quiesce()
		if got := h.rels(); len(got) != len(want) {
			t.Errorf("offered %q, want each of %d files once", got, len(want))
		}
		for rel, size := range want {
			o := h.offered(rel)[0]
			if o.Path != h.path(rel) || o.Info.Size() != size || !o.Info.Mode().IsRegular() {
				t.Errorf("%s: got path %s size %d mode %v", rel, o.Path, o.Info.Size(), o.Info.Mode())
			}
		}
	})
}

// Noticed hears of a new file a quiet period before the file is offered,
// so that the handler can get ready while the scanner finishes.
func TestNoticedBeforeOffered(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		var noticed atomic.Int64
		cfg.Noticed = func() { noticed.Add(1) }
		var atOffer atomic.Int64
		atOffer.Store(-1)
		h := start(t, cfg, func(context.Context, File) error {
			atOffer.CompareAndSwap(-1, noticed.Load())
			return nil
		})
		if n := noticed.Load(); n != 0 {
			t.Errorf("noticed %d times with an empty inbox", n)
		}
		write(t, h.path("a.pdf"), "hello")
		h.wait("a.pdf", 1)
		if n := atOffer.Load(); n < 1 {
			t.Errorf("noticed %d times before the file was offered, want at least once", n)
		}
	})
}

func TestOffersInStableOrder(t *testing.T) {
	cfg := Config{Root: t.TempDir(), Quiet: testQuiet, Interval: time.Hour}
	h := start(t, cfg, nil)
	for _, name := range []string{"3.pdf", "2.pdf", "1.pdf"} {
		write(t, h.path(name), name)
		time.Sleep(50 * time.Millisecond)
	}
	h.wait("1.pdf", 1)
	if got := h.rels(); !slices.Equal(got, []string{"3.pdf", "2.pdf", "1.pdf"}) {
		t.Errorf("offered in order %q, want the order they were written", got)
	}
}

func TestSlowWriterOfferedWhenComplete(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Quiet = 600 * time.Millisecond // six times the pause between chunks
		h := start(t, cfg, nil)
		f, err := os.Create(h.path("slow.pdf"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := bytes.Repeat([]byte("%"), 1000)
		const chunks = 15
		for i := range chunks {
			if i > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			if _, err := f.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		h.wait("slow.pdf", 1)
		h.quiesce()
		offers := h.offered("slow.pdf")
		if len(offers) != 1 || offers[0].Info.Size() != chunks*int64(len(chunk)) {
			for _, o := range offers {
				t.Logf("offered with size %d", o.Info.Size())
			}
			t.Fatalf("offered %d times, want once with the full size %d", len(offers), chunks*len(chunk))
		}
	})
}

func TestJunkAndFolders(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		h := start(t, cfg, nil)
		junk := []string{
			".hidden.pdf", ".DS_Store", ".hidden/inside.pdf", "sub/.cache/x.pdf",
			"~$report.docx", "scan.tmp", "scan.TMP", "a.part", "b.PART", "c.crdownload",
			"Thumbs.db", "THUMBS.DB", "desktop.ini", "Desktop.INI",
		}
		for _, rel := range junk {
			write(t, h.path(rel), "junk")
		}
		mkdir(t, h.path("empty.pdf")) // a folder named like a PDF
		wanted := []string{"x.pdf/inner.pdf", "note.txt", "report.tmp.pdf", "sub/ok.pdf", "Thumbs.db.pdf"}
		for _, rel := range wanted {
			write(t, h.path(rel), "keep")
		}
		for _, rel := range wanted {
			h.wait(rel, 1)
		}
		h.quiesce()
		got := h.rels()
		slices.Sort(got)
		slices.Sort(wanted)
		if !slices.Equal(got, wanted) {
			t.Errorf("offered %q, want exactly %q", got, wanted)
		}
	})
}

func TestHandlerErrorRetriedAfterRescan(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Interval = 400 * time.Millisecond
		var mu sync.Mutex
		fail := map[string]bool{"a.pdf": true} // fail the first offer of a.pdf
		h := start(t, cfg, func(_ context.Context, f File) error {
			mu.Lock()
			defer mu.Unlock()
			if fail[f.Rel] {
				fail[f.Rel] = false
				return errors.New("store busy")
			}
			return nil
		})

		write(t, h.path("a.pdf"), "aaaa")
		offers := h.wait("a.pdf", 2)
		if offers[1].walks <= offers[0].walks {
			t.Errorf("offered again after %d walks, before a rescan following the failure at %d", offers[1].walks, offers[0].walks)
		}
		h.quiesce()
		if n := len(h.offered("a.pdf")); n != 2 {
			t.Fatalf("a.pdf offered %d times, want 2 (failed, then done)", n)
		}

		// Renamed by staff: a new path.
		if err := os.Rename(h.path("a.pdf"), h.path("b.pdf")); err != nil {
			t.Fatal(err)
		}
		h.wait("b.pdf", 1)
		// Changed: offered again.
		f, err := os.OpenFile(h.path("b.pdf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("more"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		h.wait("b.pdf", 2)
		h.quiesce()
		if a, b := len(h.offered("a.pdf")), h.offered("b.pdf"); a != 2 || len(b) != 2 || b[1].Info.Size() != 8 {
			t.Errorf("after rename and append: a.pdf offered %d times, b.pdf %d times (want 2 and 2, the last with 8 bytes)", a, len(b))
		}
	})
}

func TestFileBackAfterHandling(t *testing.T) {
	// The handler moves files out; one moved back unchanged (same inode,
	// size and time) has reappeared and is offered again.
	modes(t, func(t *testing.T, cfg Config) {
		out := t.TempDir()
		h := start(t, cfg, func(_ context.Context, f File) error {
			return os.Rename(f.Path, filepath.Join(out, filepath.Base(f.Path)))
		})
		write(t, h.path("a.pdf"), "aaaa")
		h.wait("a.pdf", 1)
		waitFor(t, "the handler to move a.pdf out", func() bool {
			_, err := os.Lstat(filepath.Join(out, "a.pdf"))
			return err == nil
		})
		h.quiesce() // let the watcher take the handler's verdict first
		if err := os.Rename(filepath.Join(out, "a.pdf"), h.path("a.pdf")); err != nil {
			t.Fatal(err)
		}
		h.wait("a.pdf", 2)
	})
}

func TestSkip(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		var mu sync.Mutex
		var asked []string
		cfg.Skip = func(rel string, d fs.DirEntry) bool {
			mu.Lock()
			asked = append(asked, rel)
			mu.Unlock()
			return (rel == "errors" && d.IsDir()) || rel == "manual.pdf"
		}
		write(t, filepath.Join(cfg.Root, "errors", "old.pdf"), "x")
		h := start(t, cfg, nil)
		for _, rel := range []string{"errors/new.pdf", "errors/sub/x.pdf", "manual.pdf", "sub/errors/ok.pdf", "good.pdf"} {
			write(t, h.path(rel), "x")
		}
		h.wait("good.pdf", 1)
		h.wait("sub/errors/ok.pdf", 1)
		h.quiesce()
		if got := h.rels(); len(got) != 2 {
			t.Errorf("offered %q, want only good.pdf and sub/errors/ok.pdf", got)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(asked, "sub/errors/ok.pdf") {
			t.Errorf("Skip was asked about %q, want slash-separated paths relative to the inbox", asked)
		}
	})
}

func TestInboxRemovedAndReplaced(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		h := start(t, cfg, nil)
		write(t, h.path("a.pdf"), "a")
		h.wait("a.pdf", 1)

		if err := os.RemoveAll(h.root); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the watcher to create the inbox again", func() bool {
			info, err := os.Stat(h.root)
			return err == nil && info.IsDir()
		})
		write(t, h.path("b.pdf"), "b")
		h.wait("b.pdf", 1)

		// Replaced under the watcher, as when a share is mounted again.
		if err := os.Rename(h.root, h.root+".old"); err != nil {
			t.Fatal(err)
		}
		write(t, h.path("sub/c.pdf"), "c")
		h.wait("sub/c.pdf", 1)
		write(t, h.path("sub/d.pdf"), "d")
		h.wait("sub/d.pdf", 1)
	})
}

func TestRunStops(t *testing.T) {
	t.Run("while the handler works", func(t *testing.T) {
		entered := make(chan struct{})
		h := start(t, Config{Root: t.TempDir(), Quiet: testQuiet}, func(ctx context.Context, _ File) error {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		})
		write(t, h.path("a.pdf"), "a")
		select {
		case <-entered:
		case <-time.After(waitDeadline):
			t.Fatal("handler not called")
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		h := start(t, Config{Root: t.TempDir(), Quiet: testQuiet}, nil)
		waitFor(t, "the first walk", func() bool { return h.w.stats.walks.Load() > 0 })
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		w, err := New(Config{Root: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := w.Run(ctx, func(context.Context, File) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("second Run refused", func(t *testing.T) {
		h := start(t, Config{Root: t.TempDir()}, nil)
		waitFor(t, "the first walk", func() bool { return h.w.stats.walks.Load() > 0 })
		if err := h.w.Run(context.Background(), func(context.Context, File) error { return nil }); err == nil {
			t.Fatal("a concurrent Run returned nil")
		}
	})
}

// TestIdleWatcherSleeps checks that with nothing pending the loop does not
// wake up at all until the next full walk.
func TestIdleWatcherSleeps(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Interval = time.Hour
		write(t, filepath.Join(cfg.Root, "a.pdf"), "a") // for the first walk: poll mode sees nothing else
		h := start(t, cfg, nil)
		h.wait("a.pdf", 1)
		if !cfg.Poll {
			write(t, h.path("b.pdf"), "b")
			h.wait("b.pdf", 1)
		}
		var before int64
		waitFor(t, "the loop to go idle", func() bool {
			before = h.w.stats.wakeups.Load()
			time.Sleep(500 * time.Millisecond)
			return h.w.stats.wakeups.Load() == before
		})
		time.Sleep(2 * time.Second)
		if n := h.w.stats.wakeups.Load() - before; n != 0 {
			t.Errorf("idle watcher woke up %d times in 2s", n)
		}
	})
}

// TestMovedAwayAndBack drives the state directly: a handled file that an
// event says went away is new when it is back, even with an identical stamp
// (moved out and back: same inode, size and time).
func TestMovedAwayAndBack(t *testing.T) {
	root := t.TempDir()
	s := newState(Config{Root: root, Quiet: testQuiet, Interval: time.Hour, Logger: slog.New(slog.DiscardHandler)}, slog.New(slog.DiscardHandler), &stats{})
	p := filepath.Join(root, "a.pdf")
	write(t, p, "a")
	s.walk(t.Context())
	s.dirs[root] = s.gen // as if watched: events from unwatched folders are ignored
	e := s.files[p]
	if e == nil || e.phase != pending {
		t.Fatalf("after the walk: %+v, want pending", e)
	}
	e.phase = done
	s.event(t.Context(), fsnotify.Event{Name: p, Op: fsnotify.Write | fsnotify.Chmod})
	if e := s.files[p]; e.phase != done {
		t.Fatalf("an event without a change: phase %v, want done", e.phase)
	}
	s.event(t.Context(), fsnotify.Event{Name: p, Op: fsnotify.Rename})
	if e := s.files[p]; e == nil || e.phase != pending {
		t.Fatalf("after a rename event with the file back: %+v, want pending", e)
	}
}

func TestWorkersTakeFilesAtOnce(t *testing.T) {
	// Two workers: a handler that holds its file until released sees two
	// different files at once, never one path twice, and a third file waits
	// until one of them is done.
	modes(t, func(t *testing.T, cfg Config) {
		cfg.Workers = 2
		release := make(chan struct{})
		var mu sync.Mutex
		holding := map[string]int{}
		var most int
		h := start(t, cfg, func(_ context.Context, f File) error {
			mu.Lock()
			holding[f.Rel]++
			if holding[f.Rel] > 1 {
				t.Errorf("%s offered while a handler has it", f.Rel)
			}
			most = max(most, len(holding))
			mu.Unlock()
			<-release
			mu.Lock()
			delete(holding, f.Rel)
			mu.Unlock()
			return os.Remove(f.Path)
		})
		for _, name := range []string{"1.pdf", "2.pdf", "3.pdf"} {
			write(t, h.path(name), name)
		}
		waitFor(t, "two files with the handlers", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(holding) == 2
		})
		h.quiesce()
		if got := len(h.rels()); got != 2 {
			t.Errorf("%d files offered while both workers were busy, want 2: %q", got, h.rels())
		}
		release <- struct{}{}
		waitFor(t, "the third file offered", func() bool { return len(h.rels()) == 3 })
		close(release)
		h.quiesce()
		mu.Lock()
		defer mu.Unlock()
		if most != 2 {
			t.Errorf("at most %d files at once, want 2", most)
		}
		if got := h.rels(); len(got) != 3 {
			t.Errorf("offered %q, want each file once", got)
		}
	})
}

// TestOverflowRescansAtOnce drives the state directly: the kernel's event
// queue overflowed, so a file created meanwhile brought no event; the
// overflow error makes the next full walk come now instead of at the next
// interval (an hour here), and that walk finds the file.
func TestOverflowRescansAtOnce(t *testing.T) {
	root := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	s := newState(Config{Root: root, Quiet: testQuiet, Interval: time.Hour, Logger: log}, log, &stats{})
	s.walk(t.Context())
	p := filepath.Join(root, "lost-event.pdf")
	write(t, p, "a")
	s.watchError(fsnotify.ErrEventOverflow) // as fsnotify reports IN_Q_OVERFLOW
	select {
	case <-s.rescan.C:
	case <-time.After(waitDeadline):
		t.Fatal("no rescan after the event queue overflowed")
	}
	s.walk(t.Context())
	if e := s.files[p]; e == nil || e.phase != pending {
		t.Fatalf("the file whose event was lost: %+v, want pending", e)
	}
}

// TestEmptyFileWaitsLonger: a scanner that creates its file and pauses
// before the first page must not have it taken as empty. An empty file is
// offered only after ten quiet periods, with its content if it was written
// meanwhile; one that stays empty is offered in the end.
func TestEmptyFileWaitsLonger(t *testing.T) {
	modes(t, func(t *testing.T, cfg Config) {
		h := start(t, cfg, nil)
		write(t, h.path("scan.pdf"), "")
		write(t, h.path("left-empty.pdf"), "")
		time.Sleep(4 * testQuiet)
		if offers := h.rels(); len(offers) != 0 {
			t.Fatalf("empty files offered after %v: %q", 4*testQuiet, offers)
		}
		write(t, h.path("scan.pdf"), "%PDF-1.4 the first page")
		if o := h.wait("scan.pdf", 1); o[0].Info.Size() == 0 {
			t.Error("offered empty")
		}
		h.wait("left-empty.pdf", 1)
	})
}
