package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// fixture is a real store in a temporary data dir with a server on its
// admin socket.
type fixture struct {
	dir   string
	st    *store.Store
	srv   *Server
	woken atomic.Int32
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	st, err := store.Open(filepath.Join(f.dir, "sohoa.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	srv, err := Listen(Config{Path: SocketPath(f.dir), Store: st, Wake: func() { f.woken.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if _, err := os.Lstat(SocketPath(f.dir)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket left after shutdown: %v", err)
		}
	})
	return f
}

// park records a queued scan for one dossier and parks its upload as the
// worker does on an HTTP 400.
func (f *fixture) park(t *testing.T, content, dossier string, at time.Time) string {
	t.Helper()
	sha := hash(content)
	err := f.st.Record(store.Scan{SHA256: sha, Size: int64(len(content)), Name: dossier + ".pdf",
		State: store.Queued, Dossiers: []string{dossier}, Seen: at})
	if err != nil {
		t.Fatal(err)
	}
	jobs, _, err := f.st.Jobs(at, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.SHA256 == sha {
			if err := f.st.Park(j, "http_4xx", 400, `http 400: {"error":"maHoSo sai"}`, at); err != nil {
				t.Fatal(err)
			}
			return sha
		}
	}
	t.Fatalf("no job queued for %s", sha)
	return ""
}

func (f *fixture) due(t *testing.T) map[string]bool {
	t.Helper()
	jobs, _, err := f.st.Jobs(time.Now().Add(time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	due := map[string]bool{}
	for _, j := range jobs {
		due[j.SHA256] = true
	}
	return due
}

func TestParkedAndRetry(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	a := f.park(t, "scan a", "000.00.12.H57-200320-0001", at)
	b := f.park(t, "scan b", "000.00.12.H57-200320-0002", at.Add(time.Minute))
	c := f.park(t, "scan c", "000.00.12.H57-200320-0003", at.Add(2*time.Minute))

	fi, err := os.Lstat(SocketPath(f.dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket 0660", fi.Mode())
	}

	cl, err := Dial(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	list, err := cl.Parked(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d parked, want 3: %+v", len(list), list)
	}
	p := list[0]
	if p.SHA256 != a || p.Dossier != "000.00.12.H57-200320-0001" || p.Name != "000.00.12.H57-200320-0001.pdf" ||
		p.Size != 6 || p.Status != 400 || p.Reason != `http 400: {"error":"maHoSo sai"}` || !p.Parked.Equal(at) ||
		p.Attempts != 1 || p.Content != "" {
		t.Errorf("parked[0] = %+v", p)
	}
	if len(f.due(t)) != 0 {
		t.Error("parked jobs are due")
	}

	for _, bad := range []RetryRequest{{}, {All: true, Dossier: "x"}, {SHA256: "abc"}, {SHA256: "zzzzzzzzzz"}} {
		if _, err := cl.Retry(ctx, bad); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Retry(%+v) = %v, want ErrBadRequest", bad, err)
		}
	}
	res, err := cl.Retry(ctx, RetryRequest{SHA256: "00000000"})
	if err != nil || res.Requeued != 0 || f.woken.Load() != 0 {
		t.Errorf("retry of no match: %+v, %v, woken %d", res, err, f.woken.Load())
	}

	res, err = cl.Retry(ctx, RetryRequest{SHA256: b[:12]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requeued != 1 || len(res.Jobs) != 1 || res.Jobs[0].SHA256 != b || res.Jobs[0].Status != 400 {
		t.Errorf("retry by sha256: %+v", res)
	}
	if f.woken.Load() != 1 {
		t.Errorf("worker woken %d times, want 1", f.woken.Load())
	}
	if due := f.due(t); len(due) != 1 || !due[b] {
		t.Errorf("due after retry by sha256: %v, want %s", due, b)
	}

	res, err = cl.Retry(ctx, RetryRequest{Dossier: "000.00.12.h57-200320-0003"})
	if err != nil || res.Requeued != 1 || res.Jobs[0].SHA256 != c {
		t.Errorf("retry by dossier: %+v, %v", res, err)
	}
	res, err = cl.Retry(ctx, RetryRequest{All: true})
	if err != nil || res.Requeued != 1 || res.Jobs[0].SHA256 != a {
		t.Errorf("retry all: %+v, %v", res, err)
	}
	if due := f.due(t); len(due) != 3 {
		t.Errorf("due after retrying all: %v", due)
	}
	if list, err := cl.Parked(ctx); err != nil || len(list) != 0 {
		t.Errorf("parked after retrying all: %+v, %v", list, err)
	}
	st, err := f.st.Stats()
	if err != nil || st.Parked != 0 || st.QueueLength != 3 {
		t.Errorf("stats: %+v, %v", st, err)
	}
}

func TestDialWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	if _, err := Dial(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no socket: %v, want ErrNotRunning", err)
	}
	// A socket left by a daemon that died: nobody listens.
	stale(t, SocketPath(dir))
	_, err := Dial(dir)
	if !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: %v, want ErrNotRunning", err)
	}
	if want := "sohoa is not running (no admin socket at " + SocketPath(dir) + ")"; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// stale leaves a socket file at path that nobody listens on.
func stale(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func TestListenReplacesOnlyAStaleSocket(t *testing.T) {
	f := newFixture(t)
	// The fixture's server answers: a second one must not take its socket.
	if _, err := Listen(Config{Path: SocketPath(f.dir), Store: f.st}); err == nil {
		t.Fatal("a second server took a socket that answers")
	}
	if _, err := Dial(f.dir); err != nil {
		t.Errorf("the first server no longer answers: %v", err)
	}

	dir := t.TempDir()
	stale(t, SocketPath(dir))
	srv, err := Listen(Config{Path: SocketPath(dir), Store: f.st})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	go srv.Serve()
	defer srv.Shutdown(context.Background())
	cl, err := Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Parked(context.Background()); err != nil {
		t.Error(err)
	}

	notSocket := filepath.Join(t.TempDir(), SocketName)
	os.WriteFile(notSocket, []byte("x"), 0o600)
	if _, err := Listen(Config{Path: notSocket, Store: f.st}); err == nil {
		t.Error("a regular file at the socket path was replaced")
	}
}
