// Package search pulls the dossiers this ward received from the provincial
// one-stop system's dossier search API, page by page over a date range, and
// turns them into registry rows checked like an imported export's. It is
// configured, not tied to one vendor: a URL template with the date range and
// the page, GET or POST with a JSON body, JSON paths to the list, the total
// and each dossier's fields, and the upload sink's authentication and TLS.
// Run repeats the pull on a schedule and hands the rows to a sink.
package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/registry"
	"github.com/sohoa/sohoa/ingest/upload"
)

// Variables the URL, body and header templates may use: the date range
// (formatted with DateFormat), the page number (from FirstPage), the index
// of the page's first item, the page size and the ward's agency code.
var Variables = []string{"from", "to", "page", "offset", "size", "ward"}

// Paging modes: how the pull knows it read the last page.
const (
	// PagingShort: pages until one has fewer items than the page size.
	PagingShort = "short"
	// PagingTotalPages: Paths.Total is the number of pages (Spring's totalPages).
	PagingTotalPages = "total_pages"
	// PagingTotalElements: Paths.Total is the number of items over all pages.
	PagingTotalElements = "total_elements"
	// PagingNone: one request returns the whole range.
	PagingNone = "none"
)

// PagingModes lists the paging modes.
var PagingModes = []string{PagingShort, PagingTotalPages, PagingTotalElements, PagingNone}

// Errors of a pull, wrapped with details; test with errors.Is.
var (
	// ErrRefused: the API answered a status that retrying cannot change
	// (400, 403, 404, a redirect...), or refused the credentials.
	ErrRefused = errors.New("refused by the search API")
	// ErrBadAnswer: a 2xx answer that is not JSON or lacks the list or the
	// total where the paths say, after every attempt.
	ErrBadAnswer = errors.New("malformed answer")
	// ErrTooLarge: an answer over MaxBytes.
	ErrTooLarge = errors.New("answer too large")
	// ErrUnreachable: network errors, timeouts, 5xx or 429 on every attempt.
	ErrUnreachable = errors.New("search API unreachable")
)

// Paths are JSON paths ("content", "data.items", "procedure.name",
// "dossierStatus.name") into the API's answer. List and Total are from the
// answer's root, the others from one item of the list.
type Paths struct {
	List  string // the array of dossiers; "": the answer is that array
	Total string // the page or item count, for PagingTotalPages and PagingTotalElements

	Code      string // required
	Received  string // required
	Due       string
	Returned  string
	Procedure string
	Status    string
}

// Config configures a Puller. Zero values take the defaults named.
type Config struct {
	URL        string            // template over Variables; query values are escaped
	Method     string            // GET (default) or POST
	Body       string            // a JSON body template for POST; values are JSON-escaped
	Headers    map[string]string // extra headers; values are templates too
	DateFormat string            // Go layout of {from} and {to}; default 2006-01-02 (02/01/2006 for dd/mm/yyyy)
	PageSize   int               // default 50
	FirstPage  int               // the first page's number: 0 (default, Spring) or 1
	Paging     string            // one of PagingModes; default PagingShort
	Paths      Paths

	MaxPages int   // pages per pull at most; default 100. A pull stopped there delivers what it read.
	MaxBytes int64 // bytes per answer at most; default 16 MiB

	Timeout  time.Duration  // one request, answer read; default 1m
	Attempts int            // tries per page; default 4
	Backoff  upload.Backoff // between tries of a page, and of a failed pull (Max then the Interval); default 1s..5m

	Interval     time.Duration // between pulls; default 1h
	LookbackDays int           // the range is today and this many days back, Vietnam time; default 45

	Client *http.Client         // nil: upload.NewClient's defaults
	Auth   upload.Authenticator // nil: none

	Grammar *dossier.Grammar // checks codes; required
	Ward    string           // this ward's agency code; other agencies' dossiers are reported, not returned

	Logger     *slog.Logger          // nil: discard
	Registerer prometheus.Registerer // nil: metrics are kept but not exported
	Now        func() time.Time      // nil: time.Now
	// Sleep waits d or until ctx ends (then it returns ctx.Err()); nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64 // backoff jitter in [0,1); nil: math/rand
}

// Defaults.
const (
	DefaultPageSize     = 50
	DefaultMaxPages     = 100
	DefaultMaxBytes     = 16 << 20
	DefaultTimeout      = time.Minute
	DefaultAttempts     = 4
	DefaultInterval     = time.Hour
	DefaultLookbackDays = 45
	DefaultDateFormat   = "2006-01-02"
)

// Puller pulls the ward's dossiers. It is safe for one Run or Pull at a time.
type Puller struct {
	c       Config
	url     upload.Template
	body    upload.Template
	headers map[string]upload.Template
	paths   compiledPaths
	log     *slog.Logger
	metrics *metrics
}

type compiledPaths struct {
	list, total                                      upload.JSONPath // nil list: the root
	code, received, due, returned, procedure, status upload.JSONPath // nil: absent
	names                                            registry.Fields
}

// CheckConfig reports the first mistake in c's request, paging and paths as
// an *upload.KeyError whose Key is the configuration key under the pull's
// block (url, paging, paths.code...). It ignores the dependencies.
func CheckConfig(c Config) error {
	_, err := compile(c)
	return err
}

func keyErr(key string, format string, a ...any) error {
	return &upload.KeyError{Key: key, Err: fmt.Errorf(format, a...)}
}

func compile(c Config) (*Puller, error) {
	p := &Puller{headers: map[string]upload.Template{}}
	c.Method = strings.ToUpper(c.Method)
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	var err error
	if c.URL == "" {
		return nil, keyErr("url", "must be set")
	}
	if p.url, err = upload.ParseTemplate(c.URL, Variables); err != nil {
		return nil, keyErr("url", "%v", err)
	}
	u, err := url.Parse(p.url.RenderURL(sampleVars()))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, keyErr("url", "%q is not an http:// or https:// URL", c.URL)
	}
	switch c.Method {
	case http.MethodGet:
		if c.Body != "" {
			return nil, keyErr("body", "is sent with method POST only")
		}
	case http.MethodPost:
		if p.body, err = upload.ParseTemplate(c.Body, Variables); err != nil {
			return nil, keyErr("body", "%v", err)
		}
		if b := p.body.Render(sampleVars(), jsonEscape); c.Body != "" && !json.Valid([]byte(b)) {
			return nil, keyErr("body", "is not JSON once filled in: %s", b)
		}
	default:
		return nil, keyErr("method", "%q is not GET or POST", c.Method)
	}
	for name, v := range c.Headers {
		if !upload.ValidHeaderName(name) {
			return nil, keyErr("headers", "%q is not a header name", name)
		}
		if p.headers[name], err = upload.ParseTemplate(v, Variables); err != nil {
			return nil, keyErr("headers", "%s: %v", name, err)
		}
	}
	if c.DateFormat == "" {
		c.DateFormat = DefaultDateFormat
	}
	if d := time.Date(2020, 3, 16, 0, 0, 0, 0, registry.ICT()); !sameDay(c.DateFormat, d) {
		return nil, keyErr("date_format", "%q is not a Go date layout that keeps the day (such as 02/01/2006 or 2006-01-02); "+
			"16 March 2020 reads %q", c.DateFormat, d.Format(c.DateFormat))
	}
	switch {
	case c.PageSize == 0:
		c.PageSize = DefaultPageSize
	case c.PageSize < 1 || c.PageSize > 10000:
		return nil, keyErr("page_size", "must be between 1 and 10000")
	}
	if c.FirstPage != 0 && c.FirstPage != 1 {
		return nil, keyErr("first_page", "must be 0 or 1")
	}
	if c.Paging == "" {
		c.Paging = PagingShort
	}
	if !slices.Contains(PagingModes, c.Paging) {
		return nil, keyErr("paging", "%q is not one of %s", c.Paging, strings.Join(PagingModes, ", "))
	}
	if c.MaxPages == 0 {
		c.MaxPages = DefaultMaxPages
	}
	if c.MaxPages < 1 {
		return nil, keyErr("max_pages", "must be positive")
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxBytes < 1<<10 {
		return nil, keyErr("max_bytes", "must be at least 1KiB")
	}
	if p.paths, err = compilePaths(c.Paths, c.Paging); err != nil {
		return nil, err
	}
	for key, d := range map[string]time.Duration{"timeout": c.Timeout, "interval": c.Interval,
		"retry.min_backoff": c.Backoff.Min, "retry.max_backoff": c.Backoff.Max} {
		if d < 0 {
			return nil, keyErr(key, "must not be negative")
		}
	}
	if c.Backoff.Max != 0 && c.Backoff.Max < c.Backoff.Min {
		return nil, keyErr("retry.max_backoff", "must not be below min_backoff")
	}
	if c.Attempts < 0 || c.Attempts > 20 {
		return nil, keyErr("retry.attempts", "must be between 1 and 20")
	}
	if c.LookbackDays < 0 || c.LookbackDays > 3660 {
		return nil, keyErr("lookback_days", "must be between 0 and 3660")
	}
	p.c = c
	return p, nil
}

func compilePaths(ps Paths, paging string) (compiledPaths, error) {
	var cp compiledPaths
	one := func(key, s string, required bool) (upload.JSONPath, error) {
		if s == "" {
			if required {
				return nil, keyErr("paths."+key, "must be set")
			}
			return nil, nil
		}
		p, err := upload.ParseJSONPath(s)
		if err != nil {
			return nil, keyErr("paths."+key, "%v", err)
		}
		return p, nil
	}
	var err error
	if ps.List != "" {
		if cp.list, err = one("list", ps.List, false); err != nil {
			return cp, err
		}
	}
	needTotal := paging == PagingTotalPages || paging == PagingTotalElements
	if !needTotal && ps.Total != "" {
		return cp, keyErr("paths.total", "is used with paging %s or %s only", PagingTotalPages, PagingTotalElements)
	}
	if cp.total, err = one("total", ps.Total, needTotal); err != nil {
		return cp, err
	}
	for _, f := range []struct {
		key      string
		s        string
		to       *upload.JSONPath
		required bool
	}{
		{"code", ps.Code, &cp.code, true}, {"received", ps.Received, &cp.received, true},
		{"due", ps.Due, &cp.due, false}, {"returned", ps.Returned, &cp.returned, false},
		{"procedure", ps.Procedure, &cp.procedure, false}, {"status", ps.Status, &cp.status, false},
	} {
		if *f.to, err = one(f.key, f.s, f.required); err != nil {
			return cp, err
		}
	}
	cp.names = registry.Fields{Code: ps.Code, Received: ps.Received, Due: ps.Due, Returned: ps.Returned,
		Procedure: ps.Procedure, Status: ps.Status}
	return cp, nil
}

// sameDay reports whether layout writes a day that reads back as that day.
func sameDay(layout string, d time.Time) bool {
	t, err := time.ParseInLocation(layout, d.Format(layout), d.Location())
	return err == nil && t.Year() == d.Year() && t.YearDay() == d.YearDay()
}

func sampleVars() map[string]string {
	return map[string]string{"from": "2020-03-16", "to": "2020-03-17", "page": "0", "offset": "0", "size": "50",
		"ward": "000.00.12.H57"}
}

// jsonEscape escapes s for use inside a JSON string literal.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// New returns a Puller for c with its defaults filled in. Its metrics are
// registered with c.Registerer.
func New(c Config) (*Puller, error) {
	p, err := compile(c)
	if err != nil {
		return nil, err
	}
	c = p.c
	if c.Grammar == nil {
		return nil, errors.New("search: no dossier grammar")
	}
	c.Ward = dossier.Canonical(c.Ward)
	if c.Client == nil {
		if c.Client, err = upload.NewClient(upload.TransportConfig{}); err != nil {
			return nil, err
		}
	}
	if c.Auth == nil {
		if c.Auth, err = upload.NewAuth(upload.AuthConfig{}, nil, nil); err != nil {
			return nil, err
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	if c.Backoff.Min == 0 {
		c.Backoff.Min = time.Second
	}
	if c.Backoff.Max == 0 {
		c.Backoff.Max = max(5*time.Minute, c.Backoff.Min)
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.LookbackDays == 0 {
		c.LookbackDays = DefaultLookbackDays
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	p.c, p.log = c, c.Logger
	if p.metrics, err = newMetrics(c.Registerer); err != nil {
		return nil, err
	}
	return p, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Result is what one pull read.
type Result struct {
	// Rows are the ward's dossiers, each code once (the last page that had
	// it wins), in the order first seen. Row.Line is the item's 1-based
	// position in the pull.
	Rows []registry.Row
	// Bad are items that are not dossiers of any agency: missing or
	// malformed fields, wrong code. Foreign are other agencies' dossiers.
	Bad, Foreign []registry.Problem
	Items, Pages int
	// Complete is false when MaxPages stopped the pull before the last page.
	Complete bool
}

// Window is the date range a pull at now covers: from the start of the day
// LookbackDays before now's day, to the end of now's day, Vietnam time.
func (p *Puller) Window(now time.Time) (from, to time.Time) {
	now = now.In(registry.ICT())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	return today.AddDate(0, 0, -p.c.LookbackDays), today.AddDate(0, 0, 1).Add(-time.Second)
}

// Pull reads every page of dossiers between from and to. An error means no
// result: a page failed on every attempt, or was refused.
func (p *Puller) Pull(ctx context.Context, from, to time.Time) (Result, error) {
	var res Result
	at := map[string]int{} // code → index in res.Rows
	vars := map[string]string{"from": from.Format(p.c.DateFormat), "to": to.Format(p.c.DateFormat),
		"size": strconv.Itoa(p.c.PageSize), "ward": p.c.Ward}
	firstTotal, restarts := -1, 0
	for i := 0; ; i++ {
		if res.Pages >= p.c.MaxPages {
			p.log.Warn("registry pull stopped at the page limit; the rest waits for the next pull "+
				"(raise registry.pull.max_pages or page_size, or shorten lookback_days)", "pages", res.Pages)
			return res, nil
		}
		vars["page"] = strconv.Itoa(p.c.FirstPage + i)
		vars["offset"] = strconv.Itoa(i * p.c.PageSize)
		pg, err := p.fetch(ctx, vars)
		if err != nil {
			return Result{}, err
		}
		res.Pages++
		if pg.total >= 0 && firstTotal < 0 {
			firstTotal = pg.total
		}
		if pg.total >= 0 && pg.total != firstTotal && restarts < 2 {
			// Dossiers were added or removed while we paged: items moved
			// between pages and some may have been skipped. Read again from
			// the first page (the page limit still counts every page).
			p.log.Info("registry pull: the result changed while paging; reading again from the first page",
				"total_before", firstTotal, "total_now", pg.total)
			firstTotal, restarts, i = pg.total, restarts+1, -1
			res = Result{Pages: res.Pages}
			clear(at)
			continue
		}
		for _, it := range pg.items {
			res.Items++
			p.add(&res, at, res.Items, it)
		}
		if p.lastPage(i, pg) {
			res.Complete = true
			return res, nil
		}
	}
}

func (p *Puller) add(res *Result, at map[string]int, n int, item any) {
	row, prob, ok := p.item(n, item)
	switch {
	case ok:
		if j, seen := at[row.Code]; seen {
			row.Line = res.Rows[j].Line
			res.Rows[j] = row
			return
		}
		at[row.Code] = len(res.Rows)
		res.Rows = append(res.Rows, row)
	case prob.Foreign:
		res.Foreign = append(res.Foreign, prob)
	default:
		res.Bad = append(res.Bad, prob)
	}
}

func (p *Puller) lastPage(i int, pg page) bool {
	switch p.c.Paging {
	case PagingNone:
		return true
	case PagingTotalPages:
		return len(pg.items) == 0 || i+1 >= pg.total
	case PagingTotalElements:
		return len(pg.items) == 0 || (i+1)*p.c.PageSize >= pg.total
	}
	return len(pg.items) < p.c.PageSize
}

// page is one answer: its items, and the total when the paging has one
// (else -1).
type page struct {
	items []any
	total int
}

// attemptError is a failed request; retry says another attempt may help.
type attemptError struct {
	err   error
	retry bool
	after time.Duration // the server's Retry-After
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// fetch gets one page, with retries.
func (p *Puller) fetch(ctx context.Context, vars map[string]string) (page, error) {
	for attempt := 1; ; attempt++ {
		pg, err := p.once(ctx, vars, true)
		if err == nil {
			return pg, nil
		}
		if ctx.Err() != nil {
			return page{}, ctx.Err()
		}
		var ae *attemptError
		if !errors.As(err, &ae) || !ae.retry {
			return page{}, err
		}
		if attempt >= p.c.Attempts {
			if errors.Is(err, ErrBadAnswer) {
				return page{}, fmt.Errorf("page %s, %d attempts: %w", vars["page"], attempt, err)
			}
			return page{}, fmt.Errorf("%w: page %s, %d attempts: %w", ErrUnreachable, vars["page"], attempt, err)
		}
		wait := min(max(p.c.Backoff.Delay(attempt, p.c.Rand), ae.after), p.c.Backoff.Max)
		p.log.Warn("registry pull: request failed, retrying", "page", vars["page"], "attempt", attempt,
			"wait", wait, "err", err)
		if err := p.c.Sleep(ctx, wait); err != nil {
			return page{}, err
		}
	}
}

// once makes one request, and once more after a 401 when the credentials
// were renewed (only when mayRenew).
func (p *Puller) once(ctx context.Context, vars map[string]string, mayRenew bool) (page, error) {
	rctx, cancel := context.WithTimeout(ctx, p.c.Timeout)
	defer cancel()
	req, err := p.newRequest(rctx, vars)
	if err != nil {
		return page{}, err
	}
	if err := p.c.Auth.Authorize(rctx, req); err != nil {
		return page{}, authError(err)
	}
	where := req.Method + " " + upload.Redact(req.URL)
	resp, err := p.c.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the whole URL, query included
		}
		return page{}, &attemptError{err: fmt.Errorf("%s: %w", where, err), retry: true}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.c.MaxBytes+1))
	if err != nil {
		return page{}, &attemptError{err: fmt.Errorf("%s: reading the answer: %w", where, err), retry: true}
	}
	code := resp.StatusCode
	switch {
	case code/100 == 2:
		if int64(len(body)) > p.c.MaxBytes {
			return page{}, fmt.Errorf("%w: %s: over %d bytes (registry.pull.max_bytes); lower page_size", ErrTooLarge, where, p.c.MaxBytes)
		}
		pg, err := p.parsePage(body)
		if err != nil {
			return page{}, &attemptError{err: fmt.Errorf("%s: %w", where, err), retry: true}
		}
		return pg, nil
	case code == http.StatusUnauthorized && mayRenew:
		renewed, err := p.c.Auth.Renew(rctx, req)
		if err != nil {
			return page{}, authError(err)
		}
		if renewed {
			return p.once(ctx, vars, false)
		}
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return page{}, &attemptError{err: fmt.Errorf("%s: HTTP %s: %s", where, resp.Status, upload.Snippet(body)),
			retry: true, after: upload.RetryAfter(resp.Header.Get("Retry-After"), p.c.Now())}
	}
	return page{}, fmt.Errorf("%w: %s: HTTP %s: %s", ErrRefused, where, resp.Status, upload.Snippet(body))
}

// authError: a token endpoint that cannot be reached is retried like the
// API; a refused grant is not.
func authError(err error) error {
	var ue *upload.Error
	if errors.As(err, &ue) && (ue.Kind == upload.KindNetwork || ue.Kind == upload.KindTimeout) {
		return &attemptError{err: err, retry: true}
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

func (p *Puller) newRequest(ctx context.Context, vars map[string]string) (*http.Request, error) {
	var body io.Reader
	if p.c.Method == http.MethodPost {
		body = strings.NewReader(p.body.Render(vars, jsonEscape))
	}
	req, err := http.NewRequestWithContext(ctx, p.c.Method, p.url.RenderURL(vars), body)
	if err != nil {
		return nil, fmt.Errorf("%w: build request: %w", ErrRefused, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, t := range p.headers {
		req.Header.Set(name, t.Render(vars, nil))
	}
	return req, nil
}

// parsePage reads one answer: the list at Paths.List and, when the paging
// needs it, the total at Paths.Total.
func (p *Puller) parsePage(body []byte) (page, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return page{}, fmt.Errorf("%w: not JSON (%v): %s", ErrBadAnswer, err, upload.Snippet(body))
	}
	if dec.More() {
		return page{}, fmt.Errorf("%w: more than one JSON value: %s", ErrBadAnswer, upload.Snippet(body))
	}
	pg := page{total: -1}
	list, ok := p.paths.list.Find(doc)
	switch l := list.(type) {
	case []any:
		pg.items = l
	case nil:
		if !ok {
			return page{}, fmt.Errorf("%w: no list at %q: %s", ErrBadAnswer, p.c.Paths.List, upload.Snippet(body))
		}
	default:
		return page{}, fmt.Errorf("%w: %q is not a list: %s", ErrBadAnswer, p.c.Paths.List, upload.Snippet(body))
	}
	if p.paths.total != nil {
		v, _ := p.paths.total.Find(doc)
		n, err := count(v)
		if err != nil {
			return page{}, fmt.Errorf("%w: total %q: %v", ErrBadAnswer, p.c.Paths.Total, err)
		}
		pg.total = n
	}
	return pg, nil
}

// count reads a non-negative whole number, written as a number or a string.
func count(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case nil:
		return 0, errors.New("missing")
	default:
		return 0, fmt.Errorf("not a number: %v", v)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return n, nil
}

// item makes a row of one item of the list; n is its position in the pull.
func (p *Puller) item(n int, v any) (registry.Row, registry.Problem, bool) {
	if _, ok := v.(map[string]any); !ok {
		return registry.Row{}, registry.Problem{Line: n, Reason: fmt.Sprintf("item %d is not a JSON object", n)}, false
	}
	var f registry.Fields
	var reasons []string
	get := func(path upload.JSONPath, date bool) string {
		if path == nil {
			return ""
		}
		x, _ := path.Find(v)
		s, err := text(x, date)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", path, err))
		}
		return s
	}
	f.Code = get(p.paths.code, false)
	f.Received = get(p.paths.received, true)
	f.Due = get(p.paths.due, true)
	f.Returned = get(p.paths.returned, true)
	f.Procedure = get(p.paths.procedure, false)
	f.Status = get(p.paths.status, false)
	if len(reasons) > 0 {
		return registry.Row{}, registry.Problem{Line: n, Code: f.Code, Reason: strings.Join(reasons, "; ")}, false
	}
	return registry.Check(n, f, p.paths.names, p.c.Grammar, p.c.Ward)
}

// zoneNoColon is an ISO 8601 offset without its colon, as Java's
// SimpleDateFormat writes it (2020-03-16T01:15:00.000+0000).
var zoneNoColon = regexp.MustCompile(`(T[0-9:.]+[+-][0-9]{2})([0-9]{2})$`)

// text is a JSON value as registry.Check reads it. For a date, a number is
// a Unix time in milliseconds (Java's) or seconds, and an offset without a
// colon gets one. null and absent are "".
func text(v any, date bool) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if date {
			x = zoneNoColon.ReplaceAllString(strings.TrimSpace(x), "$1:$2")
		}
		return x, nil
	case json.Number:
		if !date {
			return x.String(), nil
		}
		f, err := x.Float64()
		if err != nil || f <= 0 || f > math.MaxInt64/2 {
			return "", fmt.Errorf("%s is not a Unix time", x)
		}
		ms := int64(f)
		if f < 1e11 { // seconds: 1e11 s is the year 5138
			ms = int64(f * 1000)
		}
		return time.UnixMilli(ms).In(registry.ICT()).Format(time.RFC3339), nil
	case bool:
		return "", fmt.Errorf("%v is not text", x)
	}
	return "", errors.New("an object or a list, not a value")
}
