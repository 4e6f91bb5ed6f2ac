package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/province/oidctest"
)

const ward = "000.00.12.H57"

func grammar(t testing.TB) *dossier.Grammar {
	t.Helper()
	g, err := dossier.NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// dossierRec is one dossier as the province's database holds it.
type dossierRec struct {
	code                    string
	received, due, returned time.Time
	procedure, status       string
	raw                     map[string]any // sent instead, for malformed items
}

func ict(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, dossier.ICT())
}

// wardDossiers are n dossiers of agency received from 16/03/2020 on, a few
// a day, every third returned, every fifth without a due date.
func wardDossiers(agency string, n int) []dossierRec {
	var out []dossierRec
	for i := range n {
		day := ict(2020, 3, 16+i/7, 8+i%7, 5*(i%12), 0)
		d := dossierRec{code: fmt.Sprintf("%s-%s-%04d", agency, day.Format("060102"), i%7+1), received: day,
			procedure: "Chứng thực bản sao từ bản chính", status: "Đang xử lý"}
		if i%5 != 0 {
			d.due = day.AddDate(0, 0, 3)
		}
		if i%3 == 0 {
			d.returned, d.status = day.AddDate(0, 0, 2), "Đã trả kết quả"
		}
		out = append(out, d)
	}
	return out
}

func (d dossierRec) want(line int) dossier.Record {
	return dossier.Record{Line: line, Code: d.code, Received: d.received, Due: d.due, Returned: d.returned,
		Procedure: d.procedure, Status: d.status}
}

// checkRows compares rows with the dossiers expected, in order.
func checkRows(t *testing.T, got []dossier.Record, want []dossierRec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i].want(r.Line)
		if r.Code != w.Code || !r.Received.Equal(w.Received) || !r.Due.Equal(w.Due) || !r.Returned.Equal(w.Returned) ||
			r.Procedure != w.Procedure || r.Status != w.Status {
			t.Fatalf("row %d = %+v\nwant %+v", i, r, w)
		}
	}
}

// fakeProvince is a loopback search API. shape writes one page; fault, when
// set, may answer a request itself (it returns true then). Requests are
// counted and their queries or bodies kept.
type fakeProvince struct {
	srv   *httptest.Server
	mu    sync.Mutex
	db    []dossierRec
	reqs  []string // "page=... from=... to=..." as the server understood them
	n     atomic.Int32
	auth  func(*http.Request) bool
	fault func(n int, w http.ResponseWriter, r *http.Request) bool
}

func (p *fakeProvince) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

func (p *fakeProvince) note(s string) {
	p.mu.Lock()
	p.reqs = append(p.reqs, s)
	p.mu.Unlock()
}

// slice returns the dossiers received from the day from to the day to,
// newest first as both systems list them, and the page asked for.
func (p *fakeProvince) slice(from, to time.Time, page, size int) (items []dossierRec, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var in []dossierRec
	for _, d := range p.db {
		end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, to.Location()) // to is a whole day
		if d.raw != nil || !d.received.Before(from) && d.received.Before(end) {
			in = append(in, d)
		}
	}
	slices.SortStableFunc(in, func(a, b dossierRec) int { return b.received.Compare(a.received) })
	lo, hi := min(page*size, len(in)), min((page+1)*size, len(in))
	return in[lo:hi], len(in)
}

// newIGate serves GET /pa/dossier/search?fromDate=yyyy-mm-dd&toDate=...&page=0&size=50
// answering Spring Data pages: {"content":[...],"totalPages":N,"totalElements":M}.
func newIGate(t *testing.T) *fakeProvince {
	p := &fakeProvince{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(p.n.Add(1))
		if p.fault != nil && p.fault(n, w, r) {
			return
		}
		if p.auth != nil && !p.auth(r) {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		from, err1 := time.ParseInLocation("2006-01-02", q.Get("fromDate"), dossier.ICT())
		to, err2 := time.ParseInLocation("2006-01-02", q.Get("toDate"), dossier.ICT())
		page, err3 := strconv.Atoi(q.Get("page"))
		size, err4 := strconv.Atoi(q.Get("size"))
		if r.Method != http.MethodGet || r.URL.Path != "/pa/dossier/search" || errors.Join(err1, err2, err3, err4) != nil {
			http.Error(w, `{"message":"Bad request"}`, http.StatusBadRequest)
			return
		}
		p.note(fmt.Sprintf("page=%d from=%s to=%s", page, q.Get("fromDate"), q.Get("toDate")))
		items, total := p.slice(from, to, page, size)
		content := []any{}
		for _, d := range items {
			if d.raw != nil {
				content = append(content, d.raw)
				continue
			}
			it := map[string]any{"id": "5f1" + d.code, "code": d.code,
				// Jackson's default: UTC, offset without a colon.
				"acceptedDate":  d.received.UTC().Format("2006-01-02T15:04:05.000-0700"),
				"procedure":     map[string]any{"id": "61", "name": d.procedure},
				"dossierStatus": map[string]any{"id": 2, "name": d.status},
			}
			if !d.due.IsZero() {
				it["appointmentDate"] = d.due.Format(time.RFC3339)
			}
			if !d.returned.IsZero() {
				it["completedDate"] = d.returned.UnixMilli() // some endpoints give epoch milliseconds
			} else {
				it["completedDate"] = nil
			}
			content = append(content, it)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"content": content, "totalPages": (total + size - 1) / size,
			"totalElements": total, "number": page, "size": size})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func igateConfig(p *fakeProvince, g *dossier.Grammar) Config {
	return asTested(g, Config{
		URL:    p.srv.URL + "/pa/dossier/search?fromDate={from}&toDate={to}&page={page}&size={size}",
		Paging: PagingTotalPages,
		Paths:  Paths{List: "content", Total: "totalPages", Code: "code", Received: "acceptedDate", Due: "appointmentDate", Returned: "completedDate", Procedure: "procedure.name", Status: "dossierStatus.name"},
	})
}

// newLGSP serves POST /lgsp/hoso/tiepnhan with a JSON body {"maDonVi":..,
// "tuNgay":"dd/mm/yyyy","denNgay":..,"trang":1,"soBanGhi":..}, answering
// {"status":"OK","data":[{"maHoSo":..,"ngayTiepNhan":"dd/mm/yyyy HH:MM:SS",...}]},
// behind a static bearer token.
func newLGSP(t *testing.T, token string) *fakeProvince {
	p := &fakeProvince{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(p.n.Add(1))
		if p.fault != nil && p.fault(n, w, r) {
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var q struct {
			MaDonVi, TuNgay, DenNgay string
			Trang, SoBanGhi          int
		}
		err := json.NewDecoder(r.Body).Decode(&q)
		from, err1 := time.ParseInLocation("02/01/2006", q.TuNgay, dossier.ICT())
		to, err2 := time.ParseInLocation("02/01/2006", q.DenNgay, dossier.ICT())
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || errors.Join(err, err1, err2) != nil ||
			q.Trang < 1 || q.SoBanGhi < 1 || q.MaDonVi != ward {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"ERROR","message":"Tham số không hợp lệ"}`)
			return
		}
		p.note(fmt.Sprintf("page=%d from=%s to=%s", q.Trang, q.TuNgay, q.DenNgay))
		items, _ := p.slice(from, to, q.Trang-1, q.SoBanGhi)
		data := []any{}
		for _, d := range items {
			it := map[string]any{"maHoSo": d.code, "ngayTiepNhan": d.received.Format("02/01/2006 15:04:05"),
				"tenThuTuc": d.procedure, "trangThai": d.status, "hanXuLy": "", "ngayTraKetQua": ""}
			if !d.due.IsZero() {
				it["hanXuLy"] = d.due.Format("02/01/2006 15:04:05")
			}
			if !d.returned.IsZero() {
				it["ngayTraKetQua"] = d.returned.Format("02/01/2006 15:04:05")
			}
			data = append(data, it)
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "OK", "data": data})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func lgspConfig(p *fakeProvince, g *dossier.Grammar) Config {
	return asTested(g, Config{
		URL:        p.srv.URL + "/lgsp/hoso/tiepnhan",
		Method:     "POST",
		Body:       `{"maDonVi": "{ward}", "tuNgay": "{from}", "denNgay": "{to}", "trang": {page}, "soBanGhi": {size}}`,
		DateFormat: "02/01/2006",
		FirstPage:  1,
		PageSize:   20,
		Paths:      Paths{List: "data", Code: "maHoSo", Received: "ngayTiepNhan", Due: "hanXuLy", Returned: "ngayTraKetQua", Procedure: "tenThuTuc", Status: "trangThai"},
	})
}

// asTested completes a province's config as every test runs it: this
// ward, three tries a page, and retries that do not sleep.
func asTested(g *dossier.Grammar, c Config) Config {
	c.Grammar, c.Ward, c.Attempts = g, ward, 3
	c.Backoff = province.Backoff{Min: time.Second, Max: 10 * time.Second}
	c.Timeout = 5 * time.Second
	c.Sleep = func(context.Context, time.Duration) error { return nil }
	c.Rand = func() float64 { return 1 }
	return c
}

func newPuller(t *testing.T, c Config) *Puller {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	march16 = ict(2020, 3, 16, 0, 0, 0)
	april30 = ict(2020, 4, 30, 23, 59, 59)
)

// TestIGate: a VNPT iGate-like search behind Keycloak's password grant,
// three pages of Spring Data, nested procedure and status names, Jackson
// dates and epoch milliseconds, another agency's dossiers and broken items
// among the ward's.
func TestIGate(t *testing.T) {
	now := time.Now()
	o := oidctest.New(t, func() time.Time { return now })
	var revoked atomic.Int64
	var refused atomic.Int32
	p := newIGate(t)
	p.auth = o.Verifier(func() time.Time { return now }, &revoked, &refused)
	ours := wardDossiers(ward, 110)
	foreign := wardDossiers("000.00.13.H57", 3)
	p.db = append(append(slices.Clone(ours), foreign...),
		dossierRec{raw: map[string]any{"code": "000.00.12.H57-200316-9001"}},
		dossierRec{raw: map[string]any{"code": "HS-2020-17", "acceptedDate": "2020-03-16T01:00:00.000+0000"}},
		dossierRec{raw: map[string]any{"code": "000.00.12.H57-200316-9002", "acceptedDate": "hôm qua"}},
		dossierRec{raw: map[string]any{"code": []any{"x"}, "acceptedDate": "2020-03-16"}})

	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte(oidctest.Password+"\n"), 0o600)
	secret := filepath.Join(dir, "client_secret")
	os.WriteFile(secret, []byte(o.M.ClientSecret), 0o600)
	auth, err := province.NewAuth(province.AuthConfig{Type: province.AuthOAuth2Password, TokenURL: o.M.TokenEndpoint(),
		ClientID: o.M.ClientID, ClientSecret: province.Secret{File: secret}, Username: oidctest.User, Password: province.Secret{File: pw}}, nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	c := igateConfig(p, grammar(t))
	c.Auth = auth
	res, err := newPuller(t, c).Pull(context.Background(), march16, april30)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(ours, func(a, b dossierRec) int { return b.received.Compare(a.received) })
	checkRows(t, res.Rows, ours)
	if !res.Complete || res.Pages != 3 || res.Items != 117 {
		t.Errorf("complete %v, %d pages, %d items; want 3 pages, 117 items", res.Complete, res.Pages, res.Items)
	}
	if len(res.Foreign) != 3 || !strings.Contains(res.Foreign[0].Reason, "belongs to agency 000.00.13.H57") {
		t.Errorf("foreign = %+v", res.Foreign)
	}
	wantBad := []string{"missing acceptedDate", `code "HS-2020-17" is not a dossier code`, `acceptedDate "hôm qua": not a date`,
		"code: an object or a list"}
	if len(res.Bad) != len(wantBad) {
		t.Fatalf("bad = %+v", res.Bad)
	}
	for i, w := range wantBad {
		if !strings.Contains(res.Bad[i].Reason, w) {
			t.Errorf("bad[%d] = %q, want %q", i, res.Bad[i].Reason, w)
		}
	}
	want := []string{"page=0 from=2020-03-16 to=2020-04-30", "page=1 from=2020-03-16 to=2020-04-30", "page=2 from=2020-03-16 to=2020-04-30"}
	if got := p.requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if o.Count("password") != 1 || refused.Load() != 0 {
		t.Errorf("%d password grants, %d refused tokens; want one grant for all pages", o.Count("password"), refused.Load())
	}

	// The province revokes every token: the next pull is refused once,
	// renews its token and reads every page.
	now = now.Add(time.Minute)
	revoked.Store(now.Unix())
	now = now.Add(time.Second)
	res, err = newPuller(t, c).Pull(context.Background(), march16, april30)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, res.Rows, ours)
	if refused.Load() != 1 || o.Count("password")+o.Count("refresh_token") != 2 {
		t.Errorf("after revocation: %d refused, %d grants, %d refreshes; want 1 refusal and one renewal",
			refused.Load(), o.Count("password"), o.Count("refresh_token"))
	}
}

// TestLGSP: a provincial integration platform's POST search with a JSON
// body, dd/mm/yyyy dates, pages numbered from 1 until a short one.
func TestLGSP(t *testing.T) {
	p := newLGSP(t, "lgsp-token-1")
	ours := wardDossiers(ward, 45)
	p.db = ours
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("lgsp-token-1\n"), 0o600)
	auth, err := province.NewAuth(province.AuthConfig{Type: province.AuthBearer, Token: province.Secret{File: tok}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := lgspConfig(p, grammar(t))
	c.Auth = auth
	res, err := newPuller(t, c).Pull(context.Background(), march16, ict(2020, 3, 31, 23, 59, 59))
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(ours, func(a, b dossierRec) int { return b.received.Compare(a.received) })
	checkRows(t, res.Rows, ours)
	want := []string{"page=1 from=16/03/2020 to=31/03/2020", "page=2 from=16/03/2020 to=31/03/2020", "page=3 from=16/03/2020 to=31/03/2020"}
	if got := p.requests(); !slices.Equal(got, want) || !res.Complete || len(res.Bad)+len(res.Foreign) != 0 {
		t.Errorf("requests %q (want %q), complete %v, %d bad, %d foreign", got, want, res.Complete, len(res.Bad), len(res.Foreign))
	}
}

// TestFaults: the ways a provincial system fails, on the LGSP-like API.
// Each case says how many requests the pull makes, the waits between
// them, and the error (none: every dossier read).
func TestFaults(t *testing.T) {
	ours := wardDossiers(ward, 30) // two pages of 20
	tests := []struct {
		name  string
		fault func(n int, w http.ResponseWriter, r *http.Request) bool
		tune  func(*Config)
		reqs  int
		waits []time.Duration
		err   error
		msg   string
	}{
		{name: "500 then success", reqs: 3, waits: []time.Duration{time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					http.Error(w, "Internal Server Error", 500)
				}
				return n == 1
			}},
		{name: "429 with Retry-After", reqs: 3, waits: []time.Duration{7 * time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 {
					w.Header().Set("Retry-After", "7")
					w.WriteHeader(http.StatusTooManyRequests)
				}
				return n == 2
			}},
		{name: "Retry-After over the cap", reqs: 3, waits: []time.Duration{10 * time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					w.Header().Set("Retry-After", "3600")
					w.WriteHeader(http.StatusServiceUnavailable)
				}
				return n == 1
			}},
		{name: "connection reset", reqs: 3, waits: []time.Duration{time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					reset(t, w)
				}
				return n == 1
			}},
		{name: "cut mid-answer", reqs: 4, waits: []time.Duration{time.Second, 2 * time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 2 {
					w.Header().Set("Content-Length", "4000")
					w.Write([]byte(`{"status":"OK","data":[{"maHoSo":"000.00.12.H57-2003`))
				}
				return n <= 2
			}},
		{name: "truncated JSON", reqs: 3, waits: []time.Duration{time.Second},
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 {
					w.Write([]byte(`{"status":"OK","data":[{"maHoSo":"000.00.12.H57-2003`))
				}
				return n == 2
			}},
		{name: "400 is not retried", reqs: 1, err: ErrRefused, msg: "HTTP 400 Bad Request: Tham số không hợp lệ",
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`Tham số không hợp lệ`))
				return true
			}},
		{name: "always 503", reqs: 3, waits: []time.Duration{time.Second, 2 * time.Second}, err: ErrUnreachable,
			msg: "HTTP 503 Service Unavailable: <html>Bảo trì hệ thống</html>",
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("<html>Bảo trì hệ thống</html>"))
				return true
			}},
		{name: "HTML with 200", reqs: 3, waits: []time.Duration{time.Second, 2 * time.Second}, err: ErrBadAnswer,
			msg: "not JSON", fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Write([]byte("<html><body>Đăng nhập</body></html>"))
				return true
			}},
		{name: "no list", reqs: 3, waits: []time.Duration{time.Second, 2 * time.Second}, err: ErrBadAnswer,
			msg: `no list at "data"`, fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Write([]byte(`{"status":"ERROR","message":"Hệ thống bận"}`))
				return true
			}},
		{name: "huge answer", reqs: 1, err: ErrTooLarge, tune: func(c *Config) { c.MaxBytes = 4 << 10 },
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Write([]byte(`{"data":[` + strings.Repeat(`{"maHoSo":"x"},`, 1000) + `{}]}`))
				return true
			}},
		{name: "page limit", reqs: 1, tune: func(c *Config) { c.MaxPages = 1 }},
		{name: "timeout", reqs: 3, waits: []time.Duration{time.Second}, tune: func(c *Config) { c.Timeout = 200 * time.Millisecond },
			fault: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					time.Sleep(time.Second)
				}
				return n == 1
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newLGSP(t, "t")
			p.db, p.fault = ours, tt.fault
			c := lgspConfig(p, grammar(t))
			c.Auth = bearer(t, "t")
			var waits []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			if tt.tune != nil {
				tt.tune(&c)
			}
			res, err := newPuller(t, c).Pull(context.Background(), march16, april30)
			if got := int(p.n.Load()); got != tt.reqs {
				t.Errorf("%d requests, want %d", got, tt.reqs)
			}
			if !slices.Equal(waits, tt.waits) {
				t.Errorf("waits %v, want %v", waits, tt.waits)
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want %v with %q", err, tt.err, tt.msg)
				}
				if len(res.Rows) != 0 {
					t.Errorf("a failed pull returned %d rows", len(res.Rows))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MaxPages == 1 {
				if res.Complete || len(res.Rows) != 20 {
					t.Errorf("page limit: complete %v, %d rows; want the first page's 20", res.Complete, len(res.Rows))
				}
				return
			}
			if !res.Complete || len(res.Rows) != len(ours) {
				t.Errorf("complete %v, %d rows, want %d", res.Complete, len(res.Rows), len(ours))
			}
		})
	}
}

func bearer(t *testing.T, token string) province.Authenticator {
	t.Helper()
	t.Setenv("SOHOA_TEST_TOKEN", token)
	a, err := province.NewAuth(province.AuthConfig{Type: province.AuthBearer, Token: province.Secret{Env: "SOHOA_TEST_TOKEN"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// reset closes the connection with a TCP RST.
func reset(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// TestPagesShift: dossiers received while the pull pages move the rest
// down a page. With a total, the pull sees it change and reads again; with
// short pages, it keeps each dossier once.
func TestPagesShift(t *testing.T) {
	for _, paging := range []string{PagingTotalElements, PagingShort} {
		t.Run(paging, func(t *testing.T) {
			p := newIGate(t)
			ours := wardDossiers(ward, 60)
			p.db = slices.Clone(ours[:57])
			late := ours[57:]
			p.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 { // after the first page, three new dossiers arrive on top
					p.mu.Lock()
					p.db = append(p.db, late...)
					p.mu.Unlock()
				}
				return false
			}
			c := igateConfig(p, grammar(t))
			c.Paging, c.PageSize = paging, 20
			c.Paths.Total = map[string]string{PagingTotalElements: "totalElements"}[paging]
			res, err := newPuller(t, c).Pull(context.Background(), march16, april30)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range res.Rows {
				if seen[r.Code] {
					t.Errorf("%s twice", r.Code)
				}
				seen[r.Code] = true
			}
			want := 60
			if paging == PagingShort {
				want = 57 // the three new ones wait for the next pull; none is doubled
			}
			if len(res.Rows) != want {
				t.Errorf("%d rows, want %d (requests %q)", len(res.Rows), want, p.requests())
			}
			if paging == PagingTotalElements && len(p.requests()) != 5 {
				t.Errorf("requests %q, want the first page, then all four again", p.requests())
			}
		})
	}
}

func TestCheckConfig(t *testing.T) {
	good := Config{URL: "https://lgsp.example.gov.vn/api?tu={from}&den={to}&p={page}", Paths: Paths{Code: "a", Received: "b"}}
	tests := []struct {
		name string
		tune func(*Config)
		key  string
		msg  string
	}{
		{"good", func(*Config) {}, "", ""},
		{"no url", func(c *Config) { c.URL = "" }, "url", "must be set"},
		{"unknown placeholder", func(c *Config) { c.URL += "&x={dossier}" }, "url", "unknown placeholder {dossier}"},
		{"not http", func(c *Config) { c.URL = "ftp://x/{from}" }, "url", "not an http"},
		{"method", func(c *Config) { c.Method = "PUT" }, "method", `"PUT" is not GET or POST`},
		{"body with GET", func(c *Config) { c.Body = "{}" }, "body", "POST only"},
		{"body not JSON", func(c *Config) { c.Method, c.Body = "post", `{"tuNgay": {from}}` }, "body", "not JSON"},
		{"date format", func(c *Config) { c.DateFormat = "dd/mm/yyyy" }, "date_format", "not a Go date layout"},
		{"page size", func(c *Config) { c.PageSize = -1 }, "page_size", "between 1 and 10000"},
		{"first page", func(c *Config) { c.FirstPage = 2 }, "first_page", "0 or 1"},
		{"paging", func(c *Config) { c.Paging = "cursor" }, "paging", `"cursor" is not one of short, total_pages`},
		{"total needed", func(c *Config) { c.Paging = PagingTotalPages }, "paths.total", "must be set"},
		{"total unused", func(c *Config) { c.Paths.Total = "n" }, "paths.total", "paging total_pages or total_elements only"},
		{"no code", func(c *Config) { c.Paths.Code = "" }, "paths.code", "must be set"},
		{"bad path", func(c *Config) { c.Paths.Due = "a..b" }, "paths.due", "empty step"},
		{"header", func(c *Config) { c.Headers = map[string]string{"X Y": "1"} }, "headers", "not a header name"},
		{"backoff", func(c *Config) { c.Backoff = province.Backoff{Min: time.Minute, Max: time.Second} }, "retry.max_backoff", "below"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.tune(&c)
			err := CheckConfig(c)
			var ke *province.KeyError
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(ke.Err.Error(), tt.msg) {
				t.Errorf("err = %v, want %s: ...%s", err, tt.key, tt.msg)
			}
		})
	}
}
