package page

import (
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

const (
	ward    = "000.00.12.H57"
	waiting = "Chờ mã hồ sơ"
	errs    = "Lỗi"
)

// now is the tests' clock: 10:00 on 20 March 2020 in Vietnam.
var now = time.Date(2020, 3, 20, 10, 0, 0, 0, dossier.ICT())

type fixture struct {
	t     *testing.T
	st    *store.Store
	inbox string
	srv   *Server
	http  *httptest.Server
	// client does not follow redirects, so answers can be read.
	client *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "sohoa.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g, err := dossier.NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dir, "inbox")
	for _, d := range []string{waiting, errs} {
		if err := os.MkdirAll(filepath.Join(inbox, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := New(Config{Store: st, Ward: ward, WardName: "Phường Hương Văn",
		Linker: &ingest.Linker{Grammar: g, Ward: ward, SkipFolder: waiting},
		Inbox:  inbox, Errors: errs, Waiting: waiting, Settle: 300 * time.Millisecond,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{t: t, st: st, inbox: inbox, srv: srv, http: hs,
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request to the page with headers, returning status and body.
func (f *fixture) do(method, path string, body url.Values, header map[string]string) (*http.Response, string) {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, f.http.URL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// link posts a code for a scan as the page's form does, and returns the
// answer the page then shows.
func (f *fixture) link(sha, code string) string {
	f.t.Helper()
	resp, _ := f.do("POST", "/link", url.Values{"token": {f.srv.token}, "sha": {sha}, "code": {code}},
		map[string]string{"Origin": f.http.URL})
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("link: %s", resp.Status)
	}
	_, page := f.do("GET", resp.Header.Get("Location"), nil, nil)
	m := regexp.MustCompile(`(?s)<p id="answer"[^>]*>(.*?)</p>`).FindStringSubmatch(page)
	if m == nil {
		f.t.Fatal("no answer on the page after linking")
	}
	return m[1]
}

// waitingScan records a scan waiting in the staff folder, its file there.
func (f *fixture) waitingScan(c byte, name string, r reason.Code) string {
	f.t.Helper()
	sha := strings.Repeat(string(c), 64)
	place := waiting + "/" + name
	if err := f.st.Record(store.Scan{SHA256: sha, Name: name, Source: place, Place: place, Settled: true,
		State: store.Waiting, Reason: r, Pages: 1, Seen: now.Add(-time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.inbox, waiting, name), []byte("%PDF-1.4 "+name), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return sha
}

// TestGuard: a request naming another host gets nothing, a POST from
// another origin or without the token changes nothing, and every answer
// carries the CSP.
func TestGuard(t *testing.T) {
	f := newFixture(t)
	sha := f.waitingScan('a', "scan.pdf", reason.NoCode)
	form := url.Values{"token": {f.srv.token}, "sha": {sha}, "code": {ward + "-200320-0001"}}
	port := f.http.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndexByte(port, ':'):]
	for _, c := range []struct {
		name, method, path string
		form               url.Values
		header             map[string]string
		status             int
	}{
		{"page", "GET", "/", nil, nil, 200},
		{"page by localhost", "GET", "/", nil, map[string]string{"Host": "localhost" + port}, 200},
		{"rebound name", "GET", "/", nil, map[string]string{"Host": "attacker.example" + port}, 421},
		{"rebound name, version", "GET", "/version", nil, map[string]string{"Host": "attacker.example"}, 421},
		{"rebound name, link", "POST", "/link", form, map[string]string{"Host": "attacker.example" + port, "Origin": "http://attacker.example" + port}, 421},
		{"other origin", "POST", "/link", form, map[string]string{"Origin": "http://attacker.example"}, 403},
		{"no origin", "POST", "/link", form, nil, 403},
		{"cross-site fetch", "POST", "/link", form, map[string]string{"Origin": f.http.URL, "Sec-Fetch-Site": "cross-site"}, 403},
		{"unknown path", "GET", "/etc/passwd", nil, nil, 404},
		{"asset", "GET", "/assets/page.css", nil, nil, 200},
		{"no such asset", "GET", "/assets/page.html", nil, nil, 404},
	} {
		resp, _ := f.do(c.method, c.path, c.form, c.header)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s, want %d", c.name, resp.Status, c.status)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", c.name, csp)
		}
	}
	if _, err := os.Stat(filepath.Join(f.inbox, waiting, "scan.pdf")); err != nil {
		t.Errorf("a refused POST moved the file: %v", err)
	}
	// A stale token: nothing renamed, the answer says to type it again.
	resp, _ := f.do("POST", "/link", url.Values{"token": {"old"}, "sha": {sha}, "code": {ward + "-200320-0001"}},
		map[string]string{"Origin": f.http.URL})
	_, page := f.do("GET", resp.Header.Get("Location"), nil, nil)
	if !strings.Contains(page, "Trang đã cũ") {
		t.Error("a stale token did not get its answer")
	}
	if _, err := os.Stat(filepath.Join(f.inbox, waiting, "scan.pdf")); err != nil {
		t.Errorf("a stale token moved the file: %v", err)
	}
}

// TestLink: a typed code is judged by the linker before anything moves; a
// good one renames the file in the staff folder to the code, never over
// another file.
func TestLink(t *testing.T) {
	f := newFixture(t)
	sha := f.waitingScan('a', "scan.pdf", reason.NoCode)
	for code, want := range map[string]string{
		"":                          "Chưa gõ mã",
		"12345":                     "không phải là mã hồ sơ",
		"000.00.99.H57-200320-0001": reason.ForeignAgency.Vietnamese(),
	} {
		if got := f.link(sha, code); !strings.Contains(got, want) {
			t.Errorf("code %q: answer %q, want %q", code, got, want)
		}
	}
	if got := f.link(strings.Repeat("b", 64), ward+"-200320-0001"); !strings.Contains(got, "không còn chờ") {
		t.Errorf("unknown scan: answer %q", got)
	}
	if _, err := os.Stat(filepath.Join(f.inbox, waiting, "scan.pdf")); err != nil {
		t.Fatalf("a refused code moved the file: %v", err)
	}
	// Someone saved a file with the code's name already: it stays.
	code := ward + "-200320-0001"
	taken := filepath.Join(f.inbox, waiting, code+".pdf")
	if err := os.WriteFile(taken, []byte("another"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := f.link(sha, " "+strings.ToLower(code)+" ")
	if !strings.Contains(got, code+" (2).pdf") {
		t.Errorf("answer %q, want the new name", got)
	}
	if b, err := os.ReadFile(taken); err != nil || string(b) != "another" {
		t.Errorf("the file already named %s was replaced: %q, %v", code, b, err)
	}
	if b, err := os.ReadFile(filepath.Join(f.inbox, waiting, code+" (2).pdf")); err != nil || string(b) != "%PDF-1.4 scan.pdf" {
		t.Errorf("renamed file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(f.inbox, waiting, "scan.pdf")); err == nil {
		t.Error("the old name is still there")
	}
}

// TestServedOnlyForKnown: thumbnails and cover sheets exist only for what
// the store knows; nothing from the request becomes a path.
func TestServedOnlyForKnown(t *testing.T) {
	f := newFixture(t)
	sha := f.waitingScan('a', "scan.pdf", reason.NoCode)
	code := ward + "-200318-0007"
	if _, err := f.st.PutRegistry([]dossier.Record{{Code: code, Received: now.AddDate(0, 0, -2)}}, store.SourceImport, now); err != nil {
		t.Fatal(err)
	}
	for path, status := range map[string]int{
		"/thumb/" + sha:                        302, // no thumbnailer: the placeholder
		"/thumb/" + strings.Repeat("c", 64):    404,
		"/thumb/..%2f..%2fsohoa.db":            404,
		"/coversheet/" + code:                  200,
		"/coversheet/" + ward + "-200318-0008": 404,
		"/coversheet/..%2fetc%2fpasswd":        404,
	} {
		resp, body := f.do("GET", path, nil, nil)
		if resp.StatusCode != status {
			t.Errorf("%s: %s, want %d", path, resp.Status, status)
		}
		if status == 200 && (!strings.HasPrefix(body, "%PDF-") || resp.Header.Get("Content-Type") != "application/pdf") {
			t.Errorf("%s: not a PDF", path)
		}
	}
}

// TestView: today's scans newest first with their fates, the dossiers
// without a scan oldest first, the month's rate as the report prints it.
func TestView(t *testing.T) {
	f := newFixture(t)
	f.waitingScan('a', "scan_0009.pdf", reason.NoCode)
	mk := func(c byte, name string, st store.State, r reason.Code, codes []string, seen time.Time) {
		t.Helper()
		if err := f.st.Record(store.Scan{SHA256: strings.Repeat(string(c), 64), Name: name, State: st, Reason: r,
			Dossiers: codes, Pages: 3, BlankDropped: 1, Seen: seen, Source: name}); err != nil {
			t.Fatal(err)
		}
	}
	d1, d2, d3 := ward+"-200320-0001", ward+"-200301-0002", ward+"-200310-0003"
	mk('b', "lowres.pdf", store.Rejected, reason.LowDPI, nil, now.Add(-30*time.Minute))
	mk('c', d1+".pdf", store.Queued, "", []string{d1}, now.Add(-10*time.Minute))
	mk('d', "yesterday.pdf", store.Queued, "", []string{ward + "-200319-0001"}, now.AddDate(0, 0, -1))
	if _, err := f.st.PutRegistry([]dossier.Record{{Code: d2, Received: now.AddDate(0, 0, -19)}, {Code: d3, Received: now.AddDate(0, 0, -10)}},
		store.SourceImport, now); err != nil {
		t.Fatal(err)
	}
	// A batch cut in two, its parts under it in page order (not in the
	// store's SHA-256 order).
	p1, p2 := strings.Repeat("e", 64), strings.Repeat("f", 64)
	batch := store.Scan{SHA256: strings.Repeat("9", 64), Name: "batch.pdf", State: store.Split, Dossiers: []string{d1, d1}, Seen: now.Add(-5 * time.Minute)}
	parts := []store.Scan{
		{SHA256: p2, Name: "batch - 1.pdf", State: store.Queued, Dossiers: []string{d1}, Batch: batch.SHA256, Seen: batch.Seen},
		{SHA256: p1, Name: "batch - 2.pdf", State: store.Queued, Dossiers: []string{d1}, Batch: batch.SHA256, Seen: batch.Seen},
	}
	if err := f.st.RecordSplit(batch, parts); err != nil {
		t.Fatal(err)
	}
	// An empty file sohoa rejected without a record, with its note.
	empty := filepath.Join(f.inbox, errs, "empty.pdf")
	note := "\ufeffTệp: empty.pdf\r\nThời gian: 09:00 20/03/2020\r\n\r\n(Dành cho cán bộ CNTT: empty: empty file; 0 bytes)\r\n"
	for p, b := range map[string]string{empty: "", empty + ".txt": note, filepath.Join(f.inbox, errs, "stray.pdf"): "x"} {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.srv.build()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Errors) != 1 || v.Errors[0].Name != "empty.pdf" || v.Errors[0].Reason != reason.Empty.Vietnamese() {
		t.Errorf("errors folder: %+v; want the empty file alone (lowres.pdf is not there, stray.pdf has no note)", v.Errors)
	}
	var names []string
	for _, r := range v.Today {
		names = append(names, r.Name+": "+r.State)
	}
	want := []string{"batch.pdf: Tệp nhiều hồ sơ, đã tách thành 2 phần", d1 + ".pdf: Đang chờ tải lên", "lowres.pdf: Lỗi: " + reason.LowDPI.Vietnamese(), "scan_0009.pdf: Chờ mã hồ sơ",
		"empty.pdf: Lỗi: " + reason.Empty.Vietnamese()}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Errorf("today:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if p := v.Today[0].Parts; len(p) != 2 || p[0].Name != "batch - 1.pdf" || p[1].Name != "batch - 2.pdf" {
		t.Errorf("the batch's parts: %+v", p)
	}
	if len(v.Waiting) != 1 || v.Waiting[0].Name != "scan_0009.pdf" {
		t.Errorf("waiting: %+v", v.Waiting)
	}
	var unscanned []string
	for _, u := range v.Unscanned {
		unscanned = append(unscanned, u.Code+" "+u.Received)
	}
	// d1 (queued, from its scan) and the yesterday's scan's code are not
	// uploaded either; the registry's oldest comes first.
	if len(v.Unscanned) != 4 || v.Unscanned[0].Code != d2 || v.Unscanned[0].DaysAgo != 19 || v.Unscanned[1].Code != d3 || !v.Unscanned[3].Pending {
		t.Errorf("unscanned: %v", unscanned)
	}
	// March: 4 received, none digitized: "0"; February: none: "-".
	if m := v.Months[0]; m.Received != "4" || m.Digitized != "0" || m.Rate != "0" {
		t.Errorf("this month: %+v", m)
	}
	if m := v.Months[1]; m.Received != "0" || m.Rate != "-" {
		t.Errorf("last month: %+v", m)
	}
	// d1's scan uploaded: 1 of 4, as the report prints it.
	jobs, _, err := f.st.Due(now.AddDate(1, 0, 0), 10, nil)
	if err != nil || len(jobs) != 4 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	for _, j := range jobs {
		if j.Dossier == d1 {
			if err := f.st.Done(j, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if v, err = f.srv.build(); err != nil {
		t.Fatal(err)
	}
	if m := v.Months[0]; m.Received != "4" || m.Digitized != "1" || m.Rate != "25" || v.Today[1].State != "Đã tải lên" {
		t.Errorf("after the upload: %+v, %s", m, v.Today[1].State)
	}
}

// TestThumb: a waiting scan's thumbnail is its spool copy's first page
// made by the Thumbnailer, as a PNG, made once; a scan that does not
// wait has none.
func TestThumb(t *testing.T) {
	f := newFixture(t)
	sha := f.waitingScan('a', "scan.pdf", reason.NoCode)
	spool := filepath.Join(testenv.Corpus(t), "scan_0009.pdf")
	calls := 0
	f.srv.cfg.SpoolPath = func(s string) string {
		if s != sha {
			t.Errorf("spool path asked for %s", s)
		}
		return spool
	}
	f.srv.cfg.Thumbnails = func(ctx context.Context, path string, maxSide int) (barcode.Thumbnail, error) {
		calls++
		return (&barcode.Reader{}).Thumbnail(ctx, path, maxSide)
	}
	for range 2 {
		resp, body := f.do("GET", "/thumb/"+sha, nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("thumbnail: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		img, err := png.Decode(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() > thumbSide || b.Dy() > thumbSide || b.Dy() < thumbSide*3/4 {
			t.Errorf("thumbnail %v, want its long side near %d", b, thumbSide)
		}
	}
	if calls != 1 {
		t.Errorf("thumbnail made %d times, want once", calls)
	}
	if err := f.st.Record(store.Scan{SHA256: strings.Repeat("b", 64), Name: "b.pdf", State: store.Queued,
		Dossiers: []string{ward + "-200320-0001"}, Seen: now}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.do("GET", "/thumb/"+strings.Repeat("b", 64), nil, nil); resp.StatusCode != 404 {
		t.Errorf("a queued scan's thumbnail: %s, want 404", resp.Status)
	}
}
