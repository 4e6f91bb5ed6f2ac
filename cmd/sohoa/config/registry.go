package config

import (
	"time"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry/search"
)

// Registry feeds the received-dossier registry.
type Registry struct {
	Pull Pull `yaml:"pull"`
}

// Pull is the scheduled pull of this ward's received dossiers from the
// provincial system's dossier search API; off while url is empty. url, body
// and header values are templates over {from}, {to} (dates written with
// date_format), {page}, {offset}, {size} and {ward}. Paths are JSON paths:
// list and total from the answer's root, the others within one item.
type Pull struct {
	URL          string            `yaml:"url"`
	Method       string            `yaml:"method"` // GET | POST
	Body         string            `yaml:"body"`   // JSON body template for POST; values are JSON-escaped
	Headers      map[string]string `yaml:"headers"`
	DateFormat   string            `yaml:"date_format"` // Go layout: 2006-01-02, 02/01/2006...
	PageSize     int               `yaml:"page_size"`
	FirstPage    int               `yaml:"first_page"` // 0 | 1
	Paging       string            `yaml:"paging"`     // short | total_pages | total_elements | none
	MaxPages     int               `yaml:"max_pages"`  // per pull
	MaxBytes     ByteSize          `yaml:"max_bytes"`  // per answer
	Paths        PullPaths         `yaml:"paths"`
	Interval     Duration          `yaml:"interval"`
	LookbackDays int               `yaml:"lookback_days"` // the range: today and this many days back, Vietnam time

	Timeout        Duration  `yaml:"timeout"`         // one request, answer read
	ConnectTimeout Duration  `yaml:"connect_timeout"` // TCP connect and TLS handshake; default 30s
	Retry          PullRetry `yaml:"retry"`
	// HTTPConfig holds tls and auth, as the upload sink's.
	province.HTTPConfig `yaml:",inline"`
}

// PullPaths are the JSON paths of the pull's answer.
type PullPaths struct {
	List      string `yaml:"list"`
	Total     string `yaml:"total"`
	Code      string `yaml:"code"`
	Received  string `yaml:"received"`
	Due       string `yaml:"due"`
	Returned  string `yaml:"returned"`
	Procedure string `yaml:"procedure"`
	Status    string `yaml:"status"`
}

// PullRetry bounds the tries of one page and the backoff between them; a
// failed pull is tried again after a backoff from min_backoff up to the
// interval.
type PullRetry struct {
	Attempts   int      `yaml:"attempts"`
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

func (p *Pull) validate() error {
	const k = "registry.pull."
	switch {
	case p.Interval < Duration(time.Minute):
		return bad(k+"interval", "must be at least 1m")
	case p.LookbackDays < 1:
		return bad(k+"lookback_days", "must be at least 1")
	case p.Timeout <= 0:
		return bad(k+"timeout", "must be positive")
	case p.ConnectTimeout < 0:
		return bad(k+"connect_timeout", "must not be negative")
	case p.Retry.Attempts < 1:
		return bad(k+"retry.attempts", "must be at least 1")
	case p.Retry.MinBackoff <= 0:
		return bad(k+"retry.min_backoff", "must be positive")
	case p.MaxPages < 1:
		return bad(k+"max_pages", "must be at least 1")
	case p.PageSize < 1:
		return bad(k+"page_size", "must be at least 1")
	}
	if err := search.CheckConfig(p.SearchConfig()); err != nil {
		return keyed(k, err)
	}
	return keyed(k, p.HTTPConfig.Check())
}

// SearchConfig returns the pull's settings. The caller adds the client,
// authentication, grammar, ward, logger and metrics registerer.
func (p *Pull) SearchConfig() search.Config {
	return search.Config{URL: p.URL, Method: p.Method, Body: p.Body, Headers: p.Headers, DateFormat: p.DateFormat,
		PageSize: p.PageSize, FirstPage: p.FirstPage, Paging: p.Paging, MaxPages: p.MaxPages, MaxBytes: int64(p.MaxBytes),
		Paths: search.Paths(p.Paths), Timeout: time.Duration(p.Timeout), Attempts: p.Retry.Attempts,
		Backoff:  province.Backoff{Min: time.Duration(p.Retry.MinBackoff), Max: time.Duration(p.Retry.MaxBackoff)},
		Interval: time.Duration(p.Interval), LookbackDays: p.LookbackDays}
}
