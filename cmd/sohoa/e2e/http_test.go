package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
	"github.com/sohoa/sohoa/ingest/upload"
)

// igate is a loopback server shaped like VNPT iGate's two-step API: files
// go to a file service (multipart, field "files"), which answers their ids;
// the dossier is then updated to reference them. It stores by
// Idempotency-Key, which must be the pair's (dossier, content: see
// upload.IdempotencyKey), counts stored content by hash and by pair, and can
// hold an attach request without answering.
type igate struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	uploads  int               // upload requests
	uploadOf map[string]int    // content sha256 -> upload requests
	attaches int               // attach requests
	heldSHA  string            // the content whose attach request was held
	stored   map[string]int    // content sha256 -> times stored
	pairs    map[string]int    // dossier + "/" + content sha256 -> times stored
	byKey    map[string]string // idempotency key -> file id
	fileSHA  map[string]string // file id -> content sha256
	attached map[string]map[string]bool
	hold     chan struct{} // the first attach request signals here, then waits for release
	release  chan struct{}
	held     bool // set before use: no attach request is held

	stall    func()                // if set, called before each request is served (a slow province)
	answered func(r *http.Request) // if set, called once a request's answer was sent
	inflight atomic.Int32          // requests being served
	broken   int                   // uploads whose body did not arrive whole
}

func newIGate(t *testing.T, token string) *igate {
	g := &igate{token: token, stored: map[string]int{}, pairs: map[string]int{}, uploadOf: map[string]int{}, byKey: map[string]string{}, fileSHA: map[string]string{},
		attached: map[string]map[string]bool{}, hold: make(chan struct{}, 1), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /files", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.uploads++
		g.mu.Unlock()
		f, _, err := r.FormFile("files")
		if err != nil {
			g.mu.Lock()
			g.broken++
			g.mu.Unlock()
			http.Error(w, "no files", http.StatusBadRequest)
			return
		}
		h := sha256.New()
		io.Copy(h, f)
		sha := hex.EncodeToString(h.Sum(nil))
		dossier := r.FormValue("maHoSo")
		key := r.Header.Get("Idempotency-Key")
		if key != upload.IdempotencyKey(dossier, sha) {
			http.Error(w, "idempotency key is not the pair's (dossier, content)", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.uploadOf[sha]++
		id, ok := g.byKey[key]
		if !ok {
			id = fmt.Sprintf("f-%d", len(g.byKey)+1)
			g.byKey[key], g.fileSHA[id] = id, sha
			g.stored[sha]++
			g.pairs[dossier+"/"+sha]++
		}
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"id":%q,"filename":%q}]`, id, r.FormValue("maHoSo"))
	})
	mux.HandleFunc("PUT /api/dossiers/{dossier}/attachments", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			FileIDs []string `json:"fileIds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.attaches++
		first := !g.held
		g.held = true
		if first && len(req.FileIDs) == 1 {
			g.heldSHA = g.fileSHA[req.FileIDs[0]]
		}
		g.mu.Unlock()
		if first {
			g.hold <- struct{}{}
			select {
			case <-g.release:
			case <-r.Context().Done():
			}
			return // never answered: the daemon is killed meanwhile
		}
		d := r.PathValue("dossier")
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.attached[d] == nil {
			g.attached[d] = map[string]bool{}
		}
		for _, id := range req.FileIDs {
			if _, ok := g.fileSHA[id]; !ok {
				http.Error(w, "unknown file", http.StatusNotFound)
				return
			}
			g.attached[d][id] = true
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		g.inflight.Add(1)
		defer g.inflight.Add(-1)
		if g.stall != nil {
			g.stall()
		}
		mux.ServeHTTP(w, r)
		if g.answered != nil {
			w.(http.Flusher).Flush()
			g.answered(r)
		}
	}))
	t.Cleanup(func() {
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		g.srv.Close()
	})
	return g
}

// uploadConfig writes the server's token into dir and returns the upload
// section of a daemon's config for this server.
func (g *igate) uploadConfig(t *testing.T, dir string) string {
	t.Helper()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(g.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`upload:
  sink: http
  concurrency: 2
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  http:
    url: "%s/files"
    file_field: files
    fields: {maHoSo: "{dossier}"}
    attach:
      method: PUT
      url: "%s/api/dossiers/{dossier}/attachments"
      json: '{"fileIds":["{file_id}"]}'
      values: {file_id: "[0].id"}
    auth: {type: bearer, token_file: %q}
`, g.srv.URL, g.srv.URL, tokenFile)
}

// TestKillBetweenTheTwoRequests kills the daemon with SIGKILL while the
// attach request of a two-step upload is under way; restarted, it resumes
// at the attach request: the file is not uploaded again.
func TestKillBetweenTheTwoRequests(t *testing.T) {
	g := newIGate(t, "e2e-token")
	e := newEnv(t)
	e.writeConfig(g.uploadConfig(t, e.dir))
	e.start()
	var shas []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("000.00.12.H57-200327-%04d.pdf", i)
		variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, name), i)
		shas = append(shas, fileSHA(t, filepath.Join(e.inbox, name)))
	}
	select {
	case <-g.hold:
	case <-time.After(60 * time.Second):
		t.Fatalf("no attach request arrived; log:\n%s", e.logText())
	}
	e.kill()
	close(g.release)

	e.start()
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("every scan attached", 60*time.Second, func() bool {
		return e.metric("sohoa_uploads_total"+ward) == 3 && e.metric("sohoa_upload_queue_length"+ward) == 0
	})
	e.stop()

	g.mu.Lock()
	defer g.mu.Unlock()
	for _, sha := range shas {
		if g.stored[sha] != 1 {
			t.Errorf("scan %s stored %d times", sha[:8], g.stored[sha])
		}
	}
	// The scan whose attach request was under way resumed at it. (Another
	// upload may have been answered but not yet recorded when the daemon
	// died: that one is sent again, and the server's idempotency keeps
	// one copy.)
	if g.heldSHA == "" || g.uploadOf[g.heldSHA] != 1 {
		t.Errorf("the interrupted scan %.8s was uploaded %d times, want once: the restart repeated the first request",
			g.heldSHA, g.uploadOf[g.heldSHA])
	}
	if g.attaches < 4 {
		t.Errorf("%d attach requests, want at least 4 (3 and the interrupted one)", g.attaches)
	}
	n := 0
	for d, ids := range g.attached {
		if len(ids) != 1 {
			t.Errorf("dossier %s references %d files", d, len(ids))
		}
		n += len(ids)
	}
	if n != 3 {
		t.Errorf("%d files attached, want 3", n)
	}
}

// TestQueueCapKeepsScansInTheInbox: with the province down, the daemon
// queues scans up to upload.queue_max_bytes and leaves the rest in the
// scanner folder; when the province is back everything is uploaded once.
func TestQueueCapKeepsScansInTheInbox(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	stored := map[string]int{}
	byKey := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "bảo trì", http.StatusServiceUnavailable)
			return
		}
		sha, ok := uploadedSHA(w, r)
		if !ok {
			return
		}
		mu.Lock()
		if key := r.Header.Get("Idempotency-Key"); !byKey[key] {
			byKey[key] = true
			stored[sha]++
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	sample := "000.00.12.H57-200320-0001.pdf"
	info, err := os.Stat(filepath.Join(testenv.Corpus(t), sample))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: http
  queue_max_bytes: %d
  retry: {min_backoff: 50ms, max_backoff: 300ms}
  http:
    url: "%s/api/dossiers/{dossier}/files"
`, 2*info.Size()+info.Size()/2, srv.URL))
	e.start()
	const n = 5
	for i := 1; i <= n; i++ {
		variant(t, sample, filepath.Join(e.inbox, fmt.Sprintf("000.00.12.H57-200327-%04d.pdf", i)), i)
	}
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("two scans queued", 30*time.Second, func() bool { return e.metric("sohoa_upload_queue_length"+ward) == 2 })
	// Three rescans later the others are still in the inbox, and the queue
	// still at its cap.
	time.Sleep(3 * time.Second)
	if left := e.inboxLeft(); len(left) != n-2 {
		t.Errorf("%d files left in the inbox, want %d: %v", len(left), n-2, left)
	}
	if q, max := e.metric("sohoa_upload_queue_bytes"+ward), e.metric("sohoa_upload_queue_max_bytes"+ward); q > max || q == 0 {
		t.Errorf("queue bytes %v, cap %v", q, max)
	}
	e.logMu.Lock()
	logged := strings.Contains(e.log.String(), "upload queue is full")
	e.logMu.Unlock()
	if !logged {
		t.Error("no log line says the queue is full")
	}

	down.Store(false)
	e.waitFor("every scan uploaded", 60*time.Second, func() bool { return e.metric("sohoa_uploads_total"+ward) == n })
	if left := e.inboxLeft(); len(left) != 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	e.stop()
	mu.Lock()
	defer mu.Unlock()
	if len(stored) != n {
		t.Errorf("%d distinct scans stored, want %d", len(stored), n)
	}
	for sha, c := range stored {
		if c != 1 {
			t.Errorf("scan %.8s stored %d times", sha, c)
		}
	}
}

// uploadedSHA returns the SHA-256 of the multipart field "file" of an
// upload, answering 400 itself when there is none.
func uploadedSHA(w http.ResponseWriter, r *http.Request) (string, bool) {
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "no file", http.StatusBadRequest)
		return "", false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		http.Error(w, "short body", http.StatusBadRequest)
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}
