package upload

import (
	"github.com/sohoa/sohoa/ingest/province"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

func writeScan(t *testing.T, dir, content string) (path, sha string) {
	t.Helper()
	s := sha256.Sum256([]byte(content))
	sha = hex.EncodeToString(s[:])
	path = filepath.Join(dir, sha+".pdf")
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return path, sha
}

func TestDirSinkIsIdempotentAndAtomic(t *testing.T) {
	root := t.TempDir()
	src := t.TempDir()
	p1, s1 := writeScan(t, src, "%PDF-1.4 first")
	p2, s2 := writeScan(t, src, "%PDF-1.4 second, same name")
	d := DirSink{Root: root}
	ctx := context.Background()
	it := Item{Dossier: "000.00.12.H57-200320-0001", Name: "scan.pdf", SHA256: s1, Path: p1}
	for range 2 {
		if err := d.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	// Another content under the same name goes beside it, once.
	it2 := Item{Dossier: it.Dossier, Name: "scan.pdf", SHA256: s2, Path: p2}
	for range 2 {
		if err := d.Put(ctx, it2); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, it.Dossier))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != "scan ("+s2[:12]+").pdf" || names[1] != "scan.pdf" {
		t.Errorf("outbox holds %q", names)
	}
	b, _ := os.ReadFile(filepath.Join(root, it.Dossier, "scan.pdf"))
	if string(b) != "%PDF-1.4 first" {
		t.Errorf("content %q", b)
	}
}

// With Link, a local outbox gets the data dir's file itself (one inode, no
// second copy of the bytes), with the mode every delivered file has; where
// no link can be made (another file system) it gets a copy.
func TestDirSinkLinks(t *testing.T) {
	root := t.TempDir()
	src := t.TempDir()
	p, s := writeScan(t, src, "%PDF-1.4 linked")
	if err := os.Chmod(p, 0o600); err != nil { // as a repaired copy is written
		t.Fatal(err)
	}
	d := DirSink{Root: root, Link: true, Tag: "pc1"}
	ctx := context.Background()
	it := Item{Dossier: "000.00.12.H57-200320-0001", Name: "scan.pdf", SHA256: s, Size: 15, Path: p}
	for range 2 {
		if err := d.Put(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(root, it.Dossier, "scan.pdf")
	a, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.Stat(p)
	if !os.SameFile(a, b) {
		t.Error("the outbox file is a second copy, not a link to the data dir's")
	}
	if a.Mode().Perm() != 0o640 {
		t.Errorf("delivered with mode %v, want 0640", a.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Join(root, it.Dossier)); len(entries) != 1 {
		t.Errorf("outbox holds %d entries, want the one file (no temporary left)", len(entries))
	}
	// A data dir copy whose size is not the recorded one is not delivered.
	bad := it
	bad.Name, bad.Size = "other.pdf", 99
	var e *Error
	if err := d.Put(ctx, bad); !errors.As(err, &e) || e.Kind != KindSource {
		t.Errorf("size mismatch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, it.Dossier, "other.pdf")); err == nil {
		t.Error("a copy of the wrong size was delivered")
	}

	// Another file system: no link can be made, the file is copied.
	shm := "/dev/shm"
	sfi, err1 := os.Stat(shm)
	rfi, err2 := os.Stat(root)
	if err1 != nil || err2 != nil || sameDevice(sfi, rfi) {
		t.Skip("no second file system to deliver into")
	}
	other, err := os.MkdirTemp(shm, "sohoa-outbox-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(other) })
	if err := (DirSink{Root: other, Link: true}).Put(ctx, it); err != nil {
		t.Fatal(err)
	}
	c, err := os.Stat(filepath.Join(other, it.Dossier, "scan.pdf"))
	if err != nil || os.SameFile(c, b) || c.Size() != b.Size() {
		t.Errorf("across file systems: %v, same file %v", err, err == nil && os.SameFile(c, b))
	}
}

func sameDevice(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev
}

func TestDirSinkFailures(t *testing.T) {
	src := t.TempDir()
	p, s := writeScan(t, src, "%PDF-1.4 x")
	ctx := context.Background()
	var e *Error
	// The share is not mounted: never created, a filesystem failure.
	missing := filepath.Join(t.TempDir(), "not-mounted")
	err := DirSink{Root: missing}.Put(ctx, Item{Dossier: "D", Name: "a.pdf", SHA256: s, Path: p})
	if !errors.As(err, &e) || e.Kind != KindFilesystem {
		t.Errorf("missing root: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("the sink created a missing share root")
	}
	// A plain folder where a mounted share is required: waits.
	plain := t.TempDir()
	err = DirSink{Root: plain, RequireMount: true}.Put(ctx, Item{Dossier: "D", Name: "a.pdf", SHA256: s, Path: p})
	if !errors.As(err, &e) || e.Kind != KindFilesystem || !strings.Contains(err.Error(), "not a mounted share") {
		t.Errorf("unmounted share: %v", err)
	}
	if err := (DirSink{Root: "/proc", RequireMount: true}).Put(ctx, Item{Dossier: "D", Name: "a.pdf", SHA256: s, Path: p}); err != nil && strings.Contains(err.Error(), "not a mounted share") {
		t.Errorf("/proc is a mount point: %v", err)
	}
	// Our copy changed under us: a source failure, nothing written.
	root := t.TempDir()
	err = DirSink{Root: root}.Put(ctx, Item{Dossier: "D", Name: "a.pdf", SHA256: strings.Repeat("0", 64), Path: p})
	if !errors.As(err, &e) || e.Kind != KindSource {
		t.Errorf("hash mismatch: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "D"))
	if len(entries) != 0 {
		t.Errorf("a failed delivery left %d files", len(entries))
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"a/b.pdf": "a_b.pdf", "..": "_", "x:y?.pdf": "x_y_.pdf", "Hồ sơ.pdf": "Hồ sơ.pdf"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWorkerRetriesThroughOutage runs the worker against a real store and a
// folder sink whose share is missing at first, as when a mount drops.
func TestWorkerRetriesThroughOutage(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spool := t.TempDir()
	share := filepath.Join(t.TempDir(), "share")
	now := time.Now()
	var shas []string
	for i, c := range []string{"%PDF-1.4 one", "%PDF-1.4 two", "%PDF-1.4 three"} {
		_, sha := writeScan(t, spool, c)
		shas = append(shas, sha)
		err := st.Record(store.Scan{SHA256: sha, Size: int64(len(c)), Name: "s.pdf", State: store.Queued,
			Dossiers: []string{"000.00.12.H57-200320-000" + string(rune('1'+i))}, Seen: now})
		if err != nil {
			t.Fatal(err)
		}
	}
	var attempts []Attempt
	done := make(chan store.Job, 3)
	w := NewWorker(Worker{
		Queue: st, Sink: DirSink{Root: share}, Ward: "000.00.12.H57",
		Path:    func(j store.Job) string { return filepath.Join(spool, j.SHA256+".pdf") },
		Done:    func(j store.Job) { done <- j },
		Backoff: province.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Observe: func(a Attempt) { attempts = append(attempts, a) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()

	// Let it fail a few times, then mount the share.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := st.Stats()
		if s.UploadFailures[KindFilesystem] >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker did not retry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.MkdirAll(share, 0o750); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("uploads did not resume after the outage")
		}
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	s, _ := st.Stats()
	if s.Uploads != 3 || s.QueueLength != 0 || s.DossiersDigitized != 3 {
		t.Errorf("stats %+v", s)
	}
	for _, sha := range shas {
		sc, _ := st.Scan(sha)
		if sc.State != store.Uploaded {
			t.Errorf("%s is %s", sha[:8], sc.State)
		}
	}
	fails := 0
	for _, a := range attempts {
		if a.Kind != "" {
			fails++
		}
	}
	if fails < 3 || len(attempts)-fails != 3 {
		t.Errorf("observed %d attempts, %d failed", len(attempts), fails)
	}
}

// funcSink is a Sink made of a function.
type funcSink func(ctx context.Context, it Item) error

func (f funcSink) Put(ctx context.Context, it Item) error { return f(ctx, it) }

// failingProgress is a store whose SaveProgress fails, as a full disk would.
type failingProgress struct{ *store.Store }

func (failingProgress) SaveProgress(store.Job, map[string]string) error {
	return errors.New("write sohoa.db: no space left on device")
}

func TestWorkerStopsWhenProgressCannotBeSaved(t *testing.T) {
	h := newHarness(t, time.Now)
	h.add("000.00.12.H57-260323-0001", 100)
	w := NewWorker(Worker{Queue: failingProgress{h.st}, Ward: "000.00.12.H57",
		Path: func(j store.Job) string { return filepath.Join(h.spool, j.Content+".pdf") },
		Sink: funcSink(func(_ context.Context, it Item) error {
			return fmt.Errorf("after the first request: %w", it.Save(map[string]string{"file_id": "f-1"}))
		})})
	err := w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Run = %v, want the store's error", err)
	}
	if st, _ := h.st.Stats(); st.QueueLength != 1 || st.UploadRetries != 0 {
		t.Errorf("a store failure was counted as a failed upload: %+v", st)
	}
}

// TestWorkerShutdownMidUpload: cancelling Run while an upload is under way
// waits for it and does not count it as failed.
func TestWorkerShutdownMidUpload(t *testing.T) {
	h := newHarness(t, time.Now)
	h.add("000.00.12.H57-260323-0001", 100)
	started := make(chan struct{})
	w := NewWorker(Worker{Queue: h.st, Ward: "000.00.12.H57",
		Path: func(j store.Job) string { return filepath.Join(h.spool, j.Content+".pdf") },
		Sink: funcSink(func(ctx context.Context, _ Item) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	<-started
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	st, _ := h.st.Stats()
	if st.QueueLength != 1 || st.UploadRetries != 0 || len(st.UploadFailures) != 0 {
		t.Errorf("stats after shutdown %+v", st)
	}
}

// TestWorkerProbesOneAtATime: once the sink has failed, only one upload is
// tried at a time, whatever the concurrency; once it is back, all run.
func TestWorkerProbesOneAtATime(t *testing.T) {
	clock := newJumpClock()
	h := newHarness(t, clock.Now)
	for i := range 8 {
		h.add(fmt.Sprintf("000.00.12.H57-260323-%04d", i+1), 100)
	}
	var mu sync.Mutex
	var inflight, calls, overlapWhileDown int
	full := make(chan struct{}) // closed when four uploads are under way together
	var fullOnce sync.Once
	h.start(funcSink(func(ctx context.Context, it Item) error {
		mu.Lock()
		calls++
		n := calls
		inflight++
		if n > 4 && n <= 20 && inflight > 1 { // after the first four, sent together at the start
			overlapWhileDown++
		}
		if inflight == 4 && n > 20 {
			fullOnce.Do(func() { close(full) })
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			inflight--
			mu.Unlock()
		}()
		if n <= 20 {
			time.Sleep(2 * time.Millisecond) // a round trip, during which another probe would overlap
			return &Error{Kind: KindHTTP5xx, Err: errors.New("HTTP 503")}
		}
		if n > 21 { // after the first success, hold until all four slots are used
			select {
			case <-full:
			case <-time.After(10 * time.Second):
			}
		}
		return nil
	}), 4, clock.After)
	h.wait(8, 0)
	h.stop()
	mu.Lock()
	defer mu.Unlock()
	if calls != 28 {
		t.Errorf("%d calls, want 20 failures and 8 uploads", calls)
	}
	if overlapWhileDown > 0 {
		t.Errorf("%d uploads overlapped another while the sink was down", overlapWhileDown)
	}
	select {
	case <-full:
	default:
		t.Error("never four uploads at once after the sink came back")
	}
}

func TestRemoveStaleRemovesOnlyOurPartialFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "000.00.12.H57-200320-0001")
	os.MkdirAll(dir, 0o750)
	ours := filepath.Join(dir, ".sohoa-upload-counter1-123")
	theirs := filepath.Join(dir, ".sohoa-upload-counter2-456")
	done := filepath.Join(dir, "scan.pdf")
	for _, p := range []string{ours, theirs, done} {
		os.WriteFile(p, []byte("x"), 0o640)
	}
	n, err := DirSink{Root: root, Tag: "counter1"}.RemoveStale()
	if err != nil || n != 1 {
		t.Fatalf("RemoveStale = %d, %v", n, err)
	}
	if _, err := os.Stat(ours); err == nil {
		t.Error("our partial file is still there")
	}
	for _, p := range []string{theirs, done} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed", p)
		}
	}
	if n, err := (DirSink{Root: filepath.Join(root, "missing")}).RemoveStale(); err != nil || n != 0 {
		t.Errorf("missing root: %d, %v", n, err)
	}
}

// TestClockBackwardsDoesNotStallRetries: an upload fails, then the PC's
// clock is set back a day (a counter PC that booted with a wrong clock until
// NTP corrected it). The retry must come after its backoff, not after the
// day the clock has to catch up. The worker's clock here has no monotonic
// reading, as times read back from the database have none.
func TestClockBackwardsDoesNotStallRetries(t *testing.T) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())).Round(0) }
	h := newHarness(t, now)
	h.backoff = province.Backoff{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	h.add("000.00.12.H57-260323-0001", 100)
	var calls atomic.Int32
	h.start(funcSink(func(context.Context, Item) error {
		if calls.Add(1) == 1 {
			return &Error{Kind: KindNetwork, Err: errors.New("connection refused")}
		}
		return nil
	}), 1, nil)
	deadline := time.Now().Add(10 * time.Second)
	for st, _ := h.st.Stats(); st.UploadRetries == 0; st, _ = h.st.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt did not fail")
		}
		time.Sleep(5 * time.Millisecond)
	}
	offset.Store(int64(-24 * time.Hour))
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no retry 10s after the clock went back a day (%d attempts)", calls.Load())
	}
}
