package upload

import (
	"github.com/sohoa/sohoa/ingest/province"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

type testScan struct {
	sha, dossier, name string
	size               int64
}

// jumpClock is a virtual clock for the worker: whenever the worker waits,
// time jumps to the end of its wait at once. It records the waits.
type jumpClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newJumpClock() *jumpClock {
	return &jumpClock{now: time.Date(2026, 3, 23, 8, 0, 0, 0, time.UTC)}
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *jumpClock) longestWait() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m time.Duration
	for _, d := range c.waits {
		m = max(m, d)
	}
	return m
}

// watchQueue reports parked jobs.
type watchQueue struct {
	*store.Store
	parked chan store.Job
}

func (q watchQueue) Park(j store.Job, kind string, status int, reason string, at time.Time) error {
	err := q.Store.Park(j, kind, status, reason, at)
	if err == nil {
		q.parked <- j
	}
	return err
}

// harness runs a Worker with a real store over scans in a spool folder.
type harness struct {
	t       testing.TB
	st      *store.Store
	spool   string
	scans   []testScan
	now     func() time.Time
	backoff province.Backoff // zero: 10ms to 100ms
	done    chan store.Job
	parked  chan store.Job
	w       *Worker
	cancel  context.CancelFunc
	stopped chan error

	// sign is the worker's Sign; nil: none.
	sign func(ctx context.Context, j store.Job, path string) (Signed, error)
}

func newHarness(t testing.TB, now func() time.Time) *harness {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "sohoa.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &harness{t: t, st: st, spool: t.TempDir(), now: now,
		done: make(chan store.Job, 10000), parked: make(chan store.Job, 10000)}
}

// add records a scan of size bytes for dossier, as ingest would.
func (h *harness) add(dossier string, size int) testScan {
	h.t.Helper()
	rng := rand.New(rand.NewChaCha8([32]byte{byte(len(h.scans)), byte(len(h.scans) >> 8), 7}))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	copy(b, "%PDF-1.4\n%")
	sum := sha256.Sum256(b)
	s := testScan{sha: hex.EncodeToString(sum[:]), dossier: dossier, size: int64(size),
		name: fmt.Sprintf("Hồ sơ %d.pdf", len(h.scans)+1)}
	if err := os.WriteFile(filepath.Join(h.spool, s.sha+".pdf"), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	err := h.st.Record(store.Scan{SHA256: s.sha, Size: s.size, Name: s.name, State: store.Queued, Pages: 2,
		Dossiers: []string{dossier}, Seen: h.now()})
	if err != nil {
		h.t.Fatal(err)
	}
	h.scans = append(h.scans, s)
	if h.w != nil {
		h.w.Wake()
	}
	return s
}

// start runs a worker on sink.
func (h *harness) start(sink Sink, concurrency int, after func(time.Duration) <-chan time.Time) {
	if h.backoff == (province.Backoff{}) {
		h.backoff = province.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	}
	h.w = NewWorker(Worker{
		Queue: watchQueue{h.st, h.parked}, Sink: sink, Ward: "000.00.12.H57",
		Path:        func(j store.Job) string { return filepath.Join(h.spool, j.Content+".pdf") },
		Done:        func(j store.Job) { h.done <- j },
		Backoff:     h.backoff,
		Concurrency: concurrency, Now: h.now, After: after, Sign: h.sign,
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.stopped = cancel, make(chan error, 1)
	go func() { h.stopped <- h.w.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

// wait waits for done confirmed and parked uploads more.
func (h *harness) wait(done, parked int) {
	h.t.Helper()
	timeout := time.After(60 * time.Second)
	for done > 0 || parked > 0 {
		select {
		case <-h.done:
			done--
		case <-h.parked:
			parked--
		case <-timeout:
			st, _ := h.st.Stats()
			h.t.Fatalf("still waiting for %d uploads and %d parked; stats %+v", done, parked, st)
		}
	}
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.stopped; err != nil {
		h.t.Errorf("worker: %v", err)
	}
	h.cancel = nil
}

// sink returns an HTTP sink for the province, as a one-step multipart API.
func (p *fakeProvince) sink(t *testing.T, headerTimeout time.Duration, edit func(*HTTPConfig)) *HTTPSink {
	t.Helper()
	client, err := province.NewClient(province.TransportConfig{ConnectTimeout: 5 * time.Second, ResponseHeaderTimeout: headerTimeout})
	if err != nil {
		t.Fatal(err)
	}
	c := HTTPConfig{
		Upload: Request{URL: p.srv.URL + "/api/dossiers/{dossier}/files",
			Fields:  map[string]string{"maHoSo": "{dossier}", "sha256": "{sha256}", "soTrang": "{pages}"},
			Headers: map[string]string{"X-Unit": "{ward}"}},
		Client: client, Timeout: 30 * time.Second,
	}
	if edit != nil {
		edit(&c)
	}
	s, err := NewHTTPSink(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func twoStep(p *fakeProvince) func(*HTTPConfig) {
	return func(c *HTTPConfig) {
		c.Upload = Request{URL: p.srv.URL + "/files", FileField: "files", Fields: map[string]string{"maHoSo": "{dossier}"}}
		c.Attach = &Request{Method: "PUT", URL: p.srv.URL + "/api/dossiers/{dossier}/attachments",
			JSON: `{"fileIds":["{file_id}"]}`}
		c.Values = map[string]string{"file_id": "[0].id"}
	}
}

// TestFaults runs six scans of four dossiers through two workers against a
// province that fails in each documented way, and checks that every scan is
// stored upstream exactly once.
func TestFaults(t *testing.T) {
	dossiers := []string{"000.00.12.H57-260323-0001", "000.00.12.H57-260323-0001", "000.00.12.H57-260323-0002",
		"000.00.12.H57-260323-0002", "000.00.12.H57-260323-0003", "000.00.12.H57-260323-0004"}
	tests := []struct {
		name          string
		edit          func(p *fakeProvince, dir string) func(*HTTPConfig)
		fault         func(c *jumpClock, fixed *atomic.Bool) func(step string, n int, r *http.Request) fault
		headerTimeout time.Duration
		parked        int
		kinds         []string // the failure kinds expected (at least one each), and no other
		check         func(t *testing.T, h *harness, p *fakeProvince, c *jumpClock, fixed *atomic.Bool)
	}{{
		name: "no faults",
		check: func(t *testing.T, h *harness, p *fakeProvince, _ *jumpClock, _ *atomic.Bool) {
			f := p.fields[h.scans[0].sha]
			if f["maHoSo"] != h.scans[0].dossier || f["sha256"] != h.scans[0].sha || f["soTrang"] != "2" ||
				f["filename"] != h.scans[0].name || f["header:X-Unit"] != "000.00.12.H57" {
				t.Errorf("the upload carried %v", f)
			}
		},
	}, {
		name: "500 502 503",
		fault: func(*jumpClock, *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault {
				if n <= 3 {
					return fault{status: []int{500, 502, 503}[n-1], body: "<html>Service Unavailable</html>"}
				}
				return fault{}
			}
		},
		kinds: []string{KindHTTP5xx},
	}, {
		name: "429 with Retry-After seconds",
		fault: func(*jumpClock, *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault {
				if n == 1 {
					return fault{status: 429, retryAfter: "7", body: `{"error":"rate limited"}`}
				}
				return fault{}
			}
		},
		kinds: []string{KindHTTP4xx},
		check: func(t *testing.T, _ *harness, _ *fakeProvince, c *jumpClock, _ *atomic.Bool) {
			if w := c.longestWait(); w < 7*time.Second {
				t.Errorf("longest wait %v: Retry-After: 7 not honoured", w)
			}
		},
	}, {
		name: "503 with Retry-After date",
		fault: func(c *jumpClock, _ *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault {
				if n == 1 {
					return fault{status: 503, retryAfter: c.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)}
				}
				return fault{}
			}
		},
		kinds: []string{KindHTTP5xx},
		check: func(t *testing.T, _ *harness, _ *fakeProvince, c *jumpClock, _ *atomic.Bool) {
			if w := c.longestWait(); w < 29*time.Second {
				t.Errorf("longest wait %v: a Retry-After date 30s ahead not honoured", w)
			}
		},
	}, {
		name: "connection reset mid-upload",
		fault: func(*jumpClock, *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault {
				if n <= 2 {
					return fault{resetAfter: 20 << 10}
				}
				return fault{}
			}
		},
		kinds: []string{KindNetwork},
	}, {
		name:          "body accepted, answer never sent",
		headerTimeout: time.Second,
		fault: func(*jumpClock, *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault { return fault{hang: n == 1} }
		},
		kinds: []string{KindTimeout},
	}, {
		name:          "answer lost, then 409 already have it",
		headerTimeout: time.Second,
		edit: func(p *fakeProvince, _ string) func(*HTTPConfig) {
			p.conflict = true
			return func(c *HTTPConfig) { c.Upload.Accept = []int{409} }
		},
		fault: func(*jumpClock, *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, n int, _ *http.Request) fault { return fault{hang: n <= 2} }
		},
		kinds: []string{KindTimeout},
	}, {
		name: "401 fixed by the rotated token file",
		edit: func(p *fakeProvince, dir string) func(*HTTPConfig) {
			file := filepath.Join(dir, "token")
			if err := os.WriteFile(file, []byte("old-token\n"), 0o600); err != nil {
				panic(err)
			}
			// Another program rotates the token as the old one expires: by
			// the time the server refuses the old token, the file holds the
			// new one (written under a temporary name and renamed, as such
			// programs do). Once blocks every refusal until the file is
			// written: with two workers, a 401 answered while the file was
			// being rewritten would make the second worker read the old
			// token, a real auth failure, not what this case tests.
			var rotate sync.Once
			p.auth = func(r *http.Request) bool {
				if r.Header.Get("Authorization") == "Bearer new-token" {
					return true
				}
				rotate.Do(func() {
					tmp := file + ".new"
					if err := os.WriteFile(tmp, []byte("new-token\n"), 0o600); err != nil {
						panic(err)
					}
					if err := os.Rename(tmp, file); err != nil {
						panic(err)
					}
				})
				return false
			}
			return func(c *HTTPConfig) {
				a, err := province.NewAuth(province.AuthConfig{Type: province.AuthBearer, Token: province.Secret{File: file}}, nil, nil)
				if err != nil {
					panic(err)
				}
				c.Auth = a
			}
		},
		kinds: nil, // the sink renews and retries within the attempt
	}, {
		name: "400 parks the job until requeued",
		fault: func(_ *jumpClock, fixed *atomic.Bool) func(string, int, *http.Request) fault {
			return func(_ string, _ int, r *http.Request) fault {
				if r.PathValue("dossier") == "000.00.12.H57-260323-0003" && !fixed.Load() {
					return fault{status: 400, body: `{"error":"Hồ sơ 000.00.12.H57-260323-0003 chưa được tiếp nhận"}`}
				}
				return fault{}
			}
		},
		parked: 1,
		kinds:  []string{KindHTTP4xx},
		check: func(t *testing.T, h *harness, p *fakeProvince, _ *jumpClock, fixed *atomic.Bool) {
			parked, err := h.st.Parked()
			if err != nil || len(parked) != 1 {
				t.Fatalf("parked %+v, %v", parked, err)
			}
			j := parked[0]
			if j.Dossier != "000.00.12.H57-260323-0003" || j.Status != 400 || !strings.Contains(j.LastError, "chưa được tiếp nhận") ||
				!strings.Contains(j.LastError, "HTTP 400") {
				t.Errorf("parked job %+v", j)
			}
			if st, _ := h.st.Stats(); st.Parked != 1 || st.QueueLength != 0 {
				t.Errorf("stats %+v", st)
			}
			if n := p.count(h.scans[4].sha); n != 0 {
				t.Errorf("the refused scan is stored %d times", n)
			}
			// IT has the dossier registered, and requeues it.
			fixed.Store(true)
			if moved, err := h.st.Requeue(store.ByDossier(j.Dossier), false); err != nil || len(moved) != 1 {
				t.Fatalf("requeue: %v, %v", moved, err)
			}
			h.w.Wake()
			h.wait(1, 0)
		},
	}, {
		name: "raw body",
		edit: func(p *fakeProvince, _ string) func(*HTTPConfig) {
			return func(c *HTTPConfig) {
				c.Upload = Request{Method: "PUT", URL: p.srv.URL + "/raw/{dossier}/{filename}", Body: BodyRaw}
			}
		},
		check: func(t *testing.T, h *harness, p *fakeProvince, _ *jumpClock, _ *atomic.Bool) {
			if f := p.fields[h.scans[0].sha]; f["header:Content-Type"] != "application/pdf" {
				t.Errorf("raw upload headers %v", f)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvince(t)
			clock := newJumpClock()
			var fixed atomic.Bool
			if tt.fault != nil {
				p.fault = tt.fault(clock, &fixed)
			}
			var edit func(*HTTPConfig)
			if tt.edit != nil {
				edit = tt.edit(p, t.TempDir())
			}
			headerTimeout := tt.headerTimeout
			if headerTimeout <= 0 {
				headerTimeout = 20 * time.Second
			}
			sink := p.sink(t, headerTimeout, func(c *HTTPConfig) {
				c.Now = clock.Now
				if edit != nil {
					edit(c)
				}
			})
			h := newHarness(t, clock.Now)
			for _, d := range dossiers {
				h.add(d, 48<<10)
			}
			h.start(sink, 2, clock.After)
			h.wait(len(dossiers)-tt.parked, tt.parked)
			if tt.check != nil {
				tt.check(t, h, p, clock, &fixed)
			}
			h.stop()
			p.storedOnce(t, h.scans, false)
			st, err := h.st.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if st.QueueLength != 0 || st.Parked != 0 || st.Uploads != uint64(len(dossiers)) {
				t.Errorf("stats %+v", st)
			}
			for _, k := range tt.kinds {
				if st.UploadFailures[k] == 0 {
					t.Errorf("no %s failure counted: %v", k, st.UploadFailures)
				}
			}
			for k, n := range st.UploadFailures {
				if n > 0 && !strings.Contains(strings.Join(tt.kinds, ","), k) {
					t.Errorf("%d unexpected %s failures", n, k)
				}
			}
		})
	}
}

// TestTwoStepResumesAtAttach: the attach request fails after the upload
// succeeded; the next attempts send only the attach request.
func TestTwoStepResumesAtAttach(t *testing.T) {
	p := newProvince(t)
	p.fault = func(step string, n int, _ *http.Request) fault {
		if step == "attach" && n <= 3 {
			return fault{status: 503}
		}
		return fault{}
	}
	clock := newJumpClock()
	h := newHarness(t, clock.Now)
	for i := range 4 {
		h.add(fmt.Sprintf("000.00.12.H57-260323-%04d", i%3+1), 32<<10)
	}
	h.start(p.sink(t, 20*time.Second, twoStep(p)), 2, clock.After)
	h.wait(4, 0)
	h.stop()
	p.storedOnce(t, h.scans, true)
	if p.requests["upload"] != 4 || p.requests["attach"] != 4+3 {
		t.Errorf("requests %v, want 4 uploads and 7 attach requests", p.requests)
	}
}

// TestTwoStepAnswerWithoutValueParks: an upload whose answer lacks the
// configured value cannot be attached; it is parked with the reason.
func TestTwoStepAnswerWithoutValueParks(t *testing.T) {
	p := newProvince(t)
	clock := newJumpClock()
	h := newHarness(t, clock.Now)
	h.add("000.00.12.H57-260323-0001", 1000)
	h.start(p.sink(t, 20*time.Second, func(c *HTTPConfig) {
		twoStep(p)(c)
		c.Values = map[string]string{"file_id": "[0].fileId"}
	}), 1, clock.After)
	h.wait(0, 1)
	parked, _ := h.st.Parked()
	if len(parked) != 1 || !strings.Contains(parked[0].LastError, "no value for {file_id}") {
		t.Errorf("parked %+v", parked)
	}
	if p.requests["attach"] != 0 {
		t.Errorf("attached without a file id")
	}
}

// TestSourceChangedIsNeverSent: a spool file that no longer has the job's
// content fails as a source error, and the server never gets a whole body.
func TestSourceChangedIsNeverSent(t *testing.T) {
	p := newProvince(t)
	dir := t.TempDir()
	for _, raw := range []bool{false, true} {
		sink := p.sink(t, 20*time.Second, func(c *HTTPConfig) {
			if raw {
				c.Upload = Request{Method: "PUT", URL: p.srv.URL + "/raw/{dossier}/{filename}", Body: BodyRaw}
			}
		})
		path, sha := writeScan(t, dir, strings.Repeat("%PDF-1.4 original ", 5000))
		os.WriteFile(path, []byte(strings.Repeat("%PDF-1.4 tampered ", 5000)), 0o600)
		err := sink.Put(context.Background(), Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 18 * 5000, Path: path})
		if kindOf(err) != KindSource {
			t.Errorf("raw=%v: %v, want a source failure", raw, err)
		}
		os.Remove(path)
		if err := sink.Put(context.Background(), Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 18 * 5000, Path: path}); kindOf(err) != KindSource {
			t.Errorf("raw=%v, missing file: %v", raw, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.stored) != 0 {
		t.Errorf("the server stored %d files", len(p.stored))
	}
}

// TestClassification checks each answer's kind, permanence and Retry-After.
func TestClassification(t *testing.T) {
	var status atomic.Int32
	var header atomic.Value
	srv := newStatusServer(t, func(w http.ResponseWriter) {
		if h, _ := header.Load().(string); h != "" {
			w.Header().Set("Retry-After", h)
		}
		if status.Load() == 302 {
			w.Header().Set("Location", "https://new.example.gov.vn/api?key=secret")
		}
		w.WriteHeader(int(status.Load()))
		w.Write([]byte(strings.Repeat("x", 10<<10)))
	})
	sink, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: srv + "/up?apikey=s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}
	tests := []struct {
		status     int
		retryAfter string
		kind       string
		permanent  bool
		wait       time.Duration
	}{
		{200, "", "", false, 0}, {201, "", "", false, 0}, {204, "", "", false, 0},
		{400, "", KindHTTP4xx, true, 0}, {404, "", KindHTTP4xx, true, 0}, {409, "", KindHTTP4xx, true, 0},
		{413, "", KindHTTP4xx, true, 0}, {422, "", KindHTTP4xx, true, 0}, {302, "", KindHTTP4xx, true, 0},
		{401, "", KindAuth, false, 0}, {403, "", KindAuth, false, 0},
		{408, "", KindTimeout, false, 0}, {429, "120", KindHTTP4xx, false, 2 * time.Minute},
		{500, "", KindHTTP5xx, false, 0}, {502, "", KindHTTP5xx, false, 0}, {503, "5", KindHTTP5xx, false, 5 * time.Second},
		{504, "soon", KindHTTP5xx, false, 0},
	}
	for _, tt := range tests {
		status.Store(int32(tt.status))
		header.Store(tt.retryAfter)
		err := sink.Put(context.Background(), it)
		if tt.kind == "" {
			if err != nil {
				t.Errorf("%d: %v", tt.status, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Kind != tt.kind || e.Permanent != tt.permanent || e.RetryAfter != tt.wait || e.Status != tt.status {
			t.Errorf("%d: %#v, want kind %s permanent %v retry after %v", tt.status, err, tt.kind, tt.permanent, tt.wait)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "secret") || len(msg) > 1000 {
			t.Errorf("%d: the error shows a secret or too much: %q", tt.status, msg)
		}
	}
	// The failed request to a closed port is a network failure, and the URL's
	// query stays out of its text.
	closed := newStatusServer(t, nil)
	sink2, _ := NewHTTPSink(HTTPConfig{Upload: Request{URL: closed + "/up?apikey=s3cr3t"}})
	err = sink2.Put(context.Background(), it)
	if kindOf(err) != KindNetwork || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("closed port: %v", err)
	}
}

// newStatusServer serves answer on loopback; with a nil answer it returns
// the address of a port that is closed.
func newStatusServer(t *testing.T, answer func(w http.ResponseWriter)) string {
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w)
	}))
	if answer == nil {
		srv.Close()
	}
	return srv.URL
}
