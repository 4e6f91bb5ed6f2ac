// Package search pulls the dossiers this ward received from the provincial
// one-stop system's dossier search API, page by page over a date range, and
// turns them into registry rows checked like an imported export's. It is
// configured, not tied to one vendor: a URL template with the date range and
// the page, GET or POST with a JSON body, JSON paths to the list, the total
// and each dossier's fields, and the provincial client's authentication and TLS (package province).
// Run repeats the pull on a schedule and hands the rows to a sink.
package search

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry"
)

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

// Puller pulls the ward's dossiers. It is safe for one Run or Pull at a time.
type Puller struct {
	c       Config
	url     province.Template
	body    province.Template
	headers map[string]province.Template
	paths   compiledPaths
	log     *slog.Logger
	metrics *metrics
}

// New returns a Puller for c with its defaults filled in. Its metrics are
// registered with c.Registerer, labelled with c.Ward.
func New(c Config) (*Puller, error) {
	p, err := compile(c)
	if err != nil {
		return nil, err
	}
	c = p.c
	if c.Grammar == nil {
		return nil, errors.New("search: no dossier grammar")
	}
	ward := c.Ward // as configured: the label every sohoa_ metric carries
	c.Ward = dossier.Canonical(c.Ward)
	if c.Client == nil {
		if c.Client, err = province.NewClient(province.TransportConfig{}); err != nil {
			return nil, err
		}
	}
	if c.Auth == nil {
		c.Auth = province.NoAuth{}
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
	if p.metrics, err = newMetrics(c.Registerer, ward); err != nil {
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
	Rows []dossier.Record
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
	now = now.In(dossier.ICT())
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
	where := req.Method + " " + province.Redact(req.URL)
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
		return page{}, &attemptError{err: fmt.Errorf("%s: HTTP %s: %s", where, resp.Status, province.Snippet(province.WithoutCredentials(body, req))),
			retry: true, after: province.RetryAfter(resp.Header.Get("Retry-After"), p.c.Now())}
	}
	return page{}, fmt.Errorf("%w: %s: HTTP %s: %s", ErrRefused, where, resp.Status, province.Snippet(province.WithoutCredentials(body, req)))
}

// authError: a token endpoint that cannot be reached is retried like the
// API; a refused grant is not.
func authError(err error) error {
	var ue *province.Error
	if errors.As(err, &ue) && (ue.Kind == province.KindNetwork || ue.Kind == province.KindTimeout) {
		return &attemptError{err: err, retry: true}
	}
	return fmt.Errorf("%w: %w", ErrRefused, err)
}

func (p *Puller) newRequest(ctx context.Context, vars map[string]string) (*http.Request, error) {
	var body io.Reader
	if p.c.Method == http.MethodPost {
		body = strings.NewReader(p.body.Render(vars, province.JSONEscape))
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
