package upload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProvince is a loopback server that behaves like the provincial systems'
// documented file APIs and counts what it stored by the content's hash:
//
//	POST /api/dossiers/{dossier}/files   multipart (field "file"): one-step upload
//	PUT  /raw/{dossier}/{name}           the file as the body: one-step upload
//	POST /files                          multipart (field "files"), answers [{"id": ...}] (iGate's file service)
//	PUT  /api/dossiers/{dossier}/attachments   JSON {"fileIds": [...]}: references files from the dossier
//
// Like a real idempotent API it keeps the Idempotency-Key of every stored
// upload and answers a repeat with the first result instead of storing the
// content again; it checks every Content-Digest against what it received.
// fault, when set, can make any request fail in the ways a real one does.
type fakeProvince struct {
	t   *testing.T
	srv *httptest.Server

	// fault is asked for each request, before its body is read; n counts
	// the requests of that step ("upload" or "attach") so far, from 1.
	fault func(step string, n int, r *http.Request) fault
	// auth checks each request's credentials; nil: none needed.
	auth func(r *http.Request) bool
	// conflict answers a repeated upload with 409 instead of 200.
	conflict bool

	mu       sync.Mutex
	requests map[string]int        // per step
	stored   map[string]int        // content sha256 -> times stored
	byKey    map[string]string     // idempotency key -> file id
	fileSHA  map[string]string     // file id -> content sha256
	attached map[string][]string   // dossier -> file ids referenced
	byDoss   map[string][]string   // dossier -> content stored directly under it
	inflight map[string]int        // dossier -> uploads under way
	overlaps int                   // times one dossier had two uploads under way
	problems []string              // protocol violations
	fields   map[string]formFields // content sha256 -> form fields and headers of its upload
	release  chan struct{}         // closed to let hanging requests go
}

type formFields = map[string]string

// fault is how the province misbehaves for one request.
type fault struct {
	status     int    // answer this at once (with body and Retry-After)
	body       string //
	retryAfter string //
	resetAfter int64  // read this many bytes of the body, then reset the connection
	hang       bool   // store the upload, then never answer
}

func newProvince(t *testing.T) *fakeProvince {
	p := &fakeProvince{t: t, requests: map[string]int{}, stored: map[string]int{}, byKey: map[string]string{},
		fileSHA: map[string]string{}, attached: map[string][]string{}, byDoss: map[string][]string{},
		inflight: map[string]int{}, fields: map[string]formFields{}, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/dossiers/{dossier}/files", func(w http.ResponseWriter, r *http.Request) {
		p.upload(w, r, r.PathValue("dossier"), "file", false)
	})
	mux.HandleFunc("PUT /raw/{dossier}/{name}", func(w http.ResponseWriter, r *http.Request) {
		p.upload(w, r, r.PathValue("dossier"), "", false)
	})
	mux.HandleFunc("POST /files", func(w http.ResponseWriter, r *http.Request) {
		p.upload(w, r, "", "files", true)
	})
	mux.HandleFunc("PUT /api/dossiers/{dossier}/attachments", p.attach)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		p.mu.Lock()
		select {
		case <-p.release:
		default:
			close(p.release)
		}
		p.mu.Unlock()
		p.srv.Close()
	})
	return p
}

func (p *fakeProvince) problem(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, a...))
}

// begin counts the request and applies auth and the fault; false when the
// request was answered.
func (p *fakeProvince) begin(w http.ResponseWriter, r *http.Request, step string) (fault, bool) {
	if p.auth != nil && !p.auth(r) {
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return fault{}, false
	}
	p.mu.Lock()
	p.requests[step]++
	n := p.requests[step]
	p.mu.Unlock()
	if r.Header.Get("Idempotency-Key") == "" {
		p.problem("%s %s without an Idempotency-Key", r.Method, r.URL.Path)
	}
	var f fault
	if p.fault != nil {
		f = p.fault(step, n, r)
	}
	if f.status != 0 {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		return f, false
	}
	return f, true
}

func (p *fakeProvince) upload(w http.ResponseWriter, r *http.Request, dossier, fileField string, answerID bool) {
	f, ok := p.begin(w, r, "upload")
	if !ok {
		return
	}
	if f.resetAfter > 0 {
		// Not counted as under way: the client sees the reset only once
		// this handler is done with the connection.
		io.CopyN(io.Discard, r.Body, f.resetAfter)
		resetConn(w)
		return
	}
	finished := func() {}
	if dossier != "" {
		p.mu.Lock()
		if p.inflight[dossier]++; p.inflight[dossier] > 1 {
			p.overlaps++
		}
		p.mu.Unlock()
		var once sync.Once
		finished = func() {
			once.Do(func() {
				p.mu.Lock()
				p.inflight[dossier]--
				p.mu.Unlock()
			})
		}
		defer finished()
		// Processing takes a moment, as a real server's does: a second
		// upload of the dossier sent meanwhile would overlap this one.
		time.Sleep(5 * time.Millisecond)
	}
	body := io.Reader(r.Body)
	h := sha256.New()
	fields := formFields{}
	var partDigest string
	if fileField == "" {
		if _, err := io.Copy(h, body); err != nil {
			return // the client went away: nothing stored
		}
		fields["content-digest"] = r.Header.Get("Content-Digest")
		partDigest = r.Header.Get("Content-Digest")
	} else {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "not multipart", http.StatusBadRequest)
			return
		}
		found := false
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // truncated: nothing stored
			}
			if part.FormName() == fileField {
				if _, err := io.Copy(h, part); err != nil {
					return
				}
				found = true
				partDigest = part.Header.Get("Content-Digest")
				fields["filename"] = part.FileName()
				continue
			}
			b, _ := io.ReadAll(part)
			fields[part.FormName()] = string(b)
		}
		if !found {
			http.Error(w, "no file field "+fileField, http.StatusBadRequest)
			return
		}
	}
	sum := h.Sum(nil)
	sha := hex.EncodeToString(sum)
	if want := digest(sum); partDigest != want {
		p.problem("content %s arrived with Content-Digest %q, want %q", sha[:8], partDigest, want)
	}
	// The key is per pair (dossier, content); a file service that is told
	// no dossier sees a key that never names other content.
	key := r.Header.Get("Idempotency-Key")
	if dossier != "" && key != IdempotencyKey(dossier, sha) || len(key) != 64 {
		p.problem("content %s for %q arrived with Idempotency-Key %q", sha[:8], dossier, key)
	}
	for name, vals := range r.Header {
		fields["header:"+name] = strings.Join(vals, ",")
	}
	p.mu.Lock()
	id, known := p.byKey[key]
	if known && p.fileSHA[id] != sha {
		p.problem("Idempotency-Key %q sent with content %s and %s", key, p.fileSHA[id][:8], sha[:8])
	}
	if !known {
		id = fmt.Sprintf("f-%d", len(p.byKey)+1)
		p.byKey[key] = id
		p.fileSHA[id] = sha
		p.stored[sha]++
		p.fields[sha] = fields
		if dossier != "" {
			p.byDoss[dossier] = append(p.byDoss[dossier], sha)
		}
	}
	conflict := p.conflict
	p.mu.Unlock()
	if f.hang {
		// Stored: what follows is only the answer the client waits for in
		// vain; once it gives up, its retry may arrive before this handler
		// notices.
		finished()
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if known && conflict {
		w.WriteHeader(http.StatusConflict)
	}
	if answerID {
		fmt.Fprintf(w, `[{"id":%q,"filename":"x.pdf"}]`, id)
		return
	}
	fmt.Fprintf(w, `{"status":"ok","id":%q}`, id)
}

func (p *fakeProvince) attach(w http.ResponseWriter, r *http.Request) {
	f, ok := p.begin(w, r, "attach")
	if !ok {
		return
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	sum := sha256.Sum256(b)
	if got, want := r.Header.Get("Content-Digest"), digest(sum[:]); got != want {
		p.problem("attach body arrived with Content-Digest %q, want %q", got, want)
	}
	var req struct {
		FileIDs []string `json:"fileIds"`
	}
	if err := json.Unmarshal(b, &req); err != nil || len(req.FileIDs) == 0 {
		http.Error(w, `{"error":"fileIds required"}`, http.StatusBadRequest)
		return
	}
	dossier := r.PathValue("dossier")
	p.mu.Lock()
	for _, id := range req.FileIDs {
		if _, ok := p.fileSHA[id]; !ok {
			p.mu.Unlock()
			http.Error(w, `{"error":"unknown file id"}`, http.StatusNotFound)
			return
		}
		dup := false
		for _, have := range p.attached[dossier] {
			dup = dup || have == id
		}
		if !dup { // a set: referencing a file twice is harmless
			p.attached[dossier] = append(p.attached[dossier], id)
		}
	}
	p.mu.Unlock()
	if f.hang {
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

// resetConn drops the connection with a TCP reset, as a failing middlebox does.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// count returns how many times content sha was stored.
func (p *fakeProvince) count(sha string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stored[sha]
}

// storedOnce checks that every sha was stored exactly once (and under its
// dossier for one-step uploads, or attached to it for two-step ones), that
// nothing else was, and that no protocol problem was seen.
func (p *fakeProvince) storedOnce(t *testing.T, scans []testScan, twoStep bool) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range scans {
		if n := p.stored[s.sha]; n != 1 {
			t.Errorf("scan %s of %s stored %d times upstream, want once", s.sha[:8], s.dossier, n)
		}
		if twoStep {
			ids := 0
			for _, id := range p.attached[s.dossier] {
				if p.fileSHA[id] == s.sha {
					ids++
				}
			}
			if ids != 1 {
				t.Errorf("scan %s attached %d times to %s, want once", s.sha[:8], ids, s.dossier)
			}
		} else {
			n := 0
			for _, sha := range p.byDoss[s.dossier] {
				if sha == s.sha {
					n++
				}
			}
			if n != 1 {
				t.Errorf("scan %s stored %d times under %s", s.sha[:8], n, s.dossier)
			}
		}
	}
	if len(p.stored) != len(scans) {
		t.Errorf("upstream holds %d distinct files, want %d", len(p.stored), len(scans))
	}
	if p.overlaps > 0 {
		t.Errorf("one dossier had two uploads under way at once %d times", p.overlaps)
	}
	for _, pr := range p.problems {
		t.Error("protocol: " + pr)
	}
}

// newHTTPServer starts h on loopback until the test ends.
func newHTTPServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
