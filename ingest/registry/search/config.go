package search

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry"
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

	Timeout  time.Duration    // one request, answer read; default 1m
	Attempts int              // tries per page; default 4
	Backoff  province.Backoff // between tries of a page, and of a failed pull (Max then the Interval); default 1s..5m

	Interval     time.Duration // between pulls; default 1h
	LookbackDays int           // the range is today and this many days back, Vietnam time; default 45

	Client *http.Client           // nil: province.NewClient's defaults
	Auth   province.Authenticator // nil: none

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

type compiledPaths struct {
	list, total                                      province.JSONPath // nil list: the root
	code, received, due, returned, procedure, status province.JSONPath // nil: absent
	names                                            registry.Fields
}

// CheckConfig reports the first mistake in c's request, paging and paths as
// a *province.KeyError whose Key is the configuration key under the pull's
// block (url, paging, paths.code...). It ignores the dependencies.
func CheckConfig(c Config) error {
	_, err := compile(c)
	return err
}

func keyErr(key string, format string, a ...any) error {
	return &province.KeyError{Key: key, Err: fmt.Errorf(format, a...)}
}

func compile(c Config) (*Puller, error) {
	p := &Puller{headers: map[string]province.Template{}}
	c.Method = strings.ToUpper(c.Method)
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	var err error
	if c.URL == "" {
		return nil, keyErr("url", "must be set")
	}
	if p.url, err = province.ParseTemplate(c.URL, Variables); err != nil {
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
		if p.body, err = province.ParseTemplate(c.Body, Variables); err != nil {
			return nil, keyErr("body", "%v", err)
		}
		if b := p.body.Render(sampleVars(), province.JSONEscape); c.Body != "" && !json.Valid([]byte(b)) {
			return nil, keyErr("body", "is not JSON once filled in: %s", b)
		}
	default:
		return nil, keyErr("method", "%q is not GET or POST", c.Method)
	}
	for name, v := range c.Headers {
		if !province.ValidHeaderName(name) {
			return nil, keyErr("headers", "%q is not a header name", name)
		}
		if p.headers[name], err = province.ParseTemplate(v, Variables); err != nil {
			return nil, keyErr("headers", "%s: %v", name, err)
		}
	}
	if c.DateFormat == "" {
		c.DateFormat = DefaultDateFormat
	}
	if d := time.Date(2020, 3, 16, 0, 0, 0, 0, dossier.ICT()); !sameDay(c.DateFormat, d) {
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
	one := func(key, s string, required bool) (province.JSONPath, error) {
		if s == "" {
			if required {
				return nil, keyErr("paths."+key, "must be set")
			}
			return nil, nil
		}
		p, err := province.ParseJSONPath(s)
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
		to       *province.JSONPath
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
