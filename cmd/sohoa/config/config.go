// Package config reads sohoa's YAML configuration: embedded defaults for
// every setting, strict decoding (an unknown key is an error), and errors
// that name the key and its line in the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/registry/search"
	"github.com/sohoa/sohoa/ingest/upload"
)

// Config is the whole daemon configuration. The zero value is not useful:
// start from Default or Load.
type Config struct {
	Ward     Ward     `yaml:"ward"`
	Inbox    string   `yaml:"inbox"`
	DataDir  string   `yaml:"data_dir"`
	Listen   string   `yaml:"listen"`
	LogLevel string   `yaml:"log_level"`
	Watch    Watch    `yaml:"watch"`
	Folders  Folders  `yaml:"folders"`
	Check    Check    `yaml:"check"`
	Link     Link     `yaml:"link"`
	Upload   Upload   `yaml:"upload"`
	Archive  Archive  `yaml:"archive"`
	Registry Registry `yaml:"registry"`
	Pages    Pages    `yaml:"pages"`

	// WebConfig is an exporter-toolkit web configuration file (TLS, basic
	// auth) for the listen address; "" serves plain HTTP.
	WebConfig string `yaml:"web_config"`
}

// Ward identifies the unit this counter belongs to.
type Ward struct {
	Code string `yaml:"code"` // agency code as in its dossier codes, e.g. 000.00.12.H57
	Name string `yaml:"name"` // e.g. Phường Hương Văn
}

// Watch says how the inbox is watched.
type Watch struct {
	Mode   string   `yaml:"mode"`   // events | poll
	Quiet  Duration `yaml:"quiet"`  // a file is taken after it stopped changing this long
	Rescan Duration `yaml:"rescan"` // full rescan (events) or poll interval (poll)
	// Workers is how many files are taken (copied, checked, linked) at once.
	Workers int `yaml:"workers"`
	// Link takes a file into the data dir by a hard link instead of a copy
	// when both are on one file system and nobody has it open for writing.
	Link bool `yaml:"link"`
}

// Folders names the staff-facing folders inside the inbox.
type Folders struct {
	Errors  string `yaml:"errors"`
	Waiting string `yaml:"waiting"`
}

// Check holds the validation limits.
type Check struct {
	MinDPI   float64  `yaml:"min_dpi"`
	MaxBytes ByteSize `yaml:"max_bytes"`
	// Isolate parses files in a separate parser process with the limits
	// below; false parses them inside the daemon (no limit on memory).
	Isolate      bool     `yaml:"isolate"`
	ParserMemory ByteSize `yaml:"parser_memory"` // the parser process's resident memory cap
	ParserCPU    Duration `yaml:"parser_cpu"`    // CPU time per file
	Timeout      Duration `yaml:"timeout"`       // wall-clock time per file
	// Parsers is how many parser processes may run at once; 0: one a watch
	// worker. Fewer bound the memory parsing may take below the workers'.
	Parsers int `yaml:"parsers"`
}

// Link says how scans are linked to dossiers.
type Link struct {
	Pattern       string `yaml:"pattern"`
	AcceptForeign bool   `yaml:"accept_foreign"`
	// Barcodes says when receipts' QR and Code 128 are read: always (a
	// scan without a code is searched whole, a named one has its first page
	// checked against its name), unnamed (only scans without a code), off.
	Barcodes string `yaml:"barcodes"`
}

// Upload says where confirmed scans go.
type Upload struct {
	Sink        string `yaml:"sink"` // dir | http
	Concurrency int    `yaml:"concurrency"`
	// QueueMaxBytes caps the disk the upload queue takes while the sink is
	// down; at the cap new scans wait in the inbox.
	QueueMaxBytes ByteSize `yaml:"queue_max_bytes"`
	Retry         Retry    `yaml:"retry"`
	Dir           DirSink  `yaml:"dir"`
	HTTP          HTTP     `yaml:"http"`
}

// Retry bounds the upload backoff.
type Retry struct {
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

// DirSink is the folder sink: a mounted share, or a local outbox.
type DirSink struct {
	Path         string `yaml:"path"`
	RequireMount bool   `yaml:"require_mount"` // wait while Path is not a mount point
	// Link hard-links the data dir's copy into Path when both are on one
	// file system, instead of writing the bytes a second time.
	Link bool `yaml:"link"`
}

// HTTP describes uploads to the provincial system's HTTP API: one request
// (multipart or raw file body), or two for APIs that take the file first and
// reference it from the dossier after (Attach). URL, method, field, header
// and JSON values are templates over {dossier}, {filename}, {sha256}, {size},
// {ward} and {pages}.
type HTTP struct {
	URL       string            `yaml:"url"`
	Method    string            `yaml:"method"`     // default POST
	Body      string            `yaml:"body"`       // multipart (default) | raw
	FileField string            `yaml:"file_field"` // multipart field of the file; default file
	Fields    map[string]string `yaml:"fields"`     // multipart form fields
	Headers   map[string]string `yaml:"headers"`    // extra headers, on both requests
	Accept    []int             `yaml:"accept"`     // statuses besides 2xx meaning "already have it", e.g. [409]

	// IdempotencyHeader carries the scan's SHA-256 on every request.
	IdempotencyHeader     string   `yaml:"idempotency_header"`      // default Idempotency-Key
	Timeout               Duration `yaml:"timeout"`                 // whole request; default 10m
	ConnectTimeout        Duration `yaml:"connect_timeout"`         // TCP connect and TLS handshake; default 30s
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"` // answer after the body was sent; default 2m
	RateLimit             ByteSize `yaml:"rate_limit"`              // bytes per second for all uploads together; 0: none

	TLS    TLS     `yaml:"tls"`
	Auth   Auth    `yaml:"auth"`
	Attach *Attach `yaml:"attach"`
}

// Attach is the second request of a two-step API (VNPT iGate's): after the
// upload succeeded, Values takes what it needs from the upload's JSON answer
// (e.g. file_id: data.id), and the attach request's templates use those
// names too: {file_id}.
type Attach struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`  // default POST
	JSON    string            `yaml:"json"`    // a JSON body template; values are JSON-escaped
	Fields  map[string]string `yaml:"fields"`  // or a form body (application/x-www-form-urlencoded)
	Headers map[string]string `yaml:"headers"` // added to upload.http.headers
	Accept  []int             `yaml:"accept"`
	Values  map[string]string `yaml:"values"` // name -> JSON path in the upload's answer
}

// TLS adds trust and a client certificate; verification is always on.
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth says how requests authenticate. Secrets come only from files (such as
// systemd's LoadCredential=; ${CREDENTIALS_DIRECTORY} is expanded) or from
// environment variables, never from this file.
type Auth struct {
	Type             string   `yaml:"type"`       // none | bearer | basic | oauth2_client_credentials | oauth2_password
	TokenFile        string   `yaml:"token_file"` // bearer; re-read when it changes
	TokenEnv         string   `yaml:"token_env"`
	Username         string   `yaml:"username"` // basic, oauth2_password
	PasswordFile     string   `yaml:"password_file"`
	PasswordEnv      string   `yaml:"password_env"`
	TokenURL         string   `yaml:"token_url"` // oauth2
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	Scopes           []string `yaml:"scopes"`
}

// Pages says which pages of a scan are uploaded.
type Pages struct {
	// DropBlank leaves the blank back sides of duplex scans out of the
	// uploaded PDF (the original is kept in the data dir).
	DropBlank bool `yaml:"drop_blank"`
	// BlankWhite is the brightness, in percent, under which a pixel counts
	// as ink (NAPS2's white threshold).
	BlankWhite float64 `yaml:"blank_white_threshold"`
	// BlankMaxInk is the share of ink pixels, in percent, at or under which
	// a page is blank (NAPS2's coverage, much stricter here).
	BlankMaxInk float64 `yaml:"blank_max_ink"`
	// DropReceipts leaves the receipt pages out of the uploaded PDF; by
	// default they stay, being part of the dossier. A dossier that is only
	// its receipt keeps it.
	DropReceipts bool `yaml:"drop_receipts"`
}

// Archive says how long uploaded scans are kept in the data dir.
type Archive struct {
	Retention Duration `yaml:"retention"` // 0: forever
}

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
	TLS            TLS       `yaml:"tls"`
	Auth           Auth      `yaml:"auth"`
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

// Default returns the embedded defaults: everything under ./var, uploads to a
// local outbox, the ward of the sample corpus.
func Default() Config {
	return Config{
		Ward:     Ward{Code: "000.00.12.H57", Name: "Phường Hương Văn"},
		Inbox:    "var/inbox",
		DataDir:  "var/data",
		Listen:   "127.0.0.1:9120",
		LogLevel: "info",
		Watch:    Watch{Mode: "events", Quiet: Duration(5 * time.Second), Rescan: Duration(60 * time.Second), Workers: 2, Link: true},
		Folders:  Folders{Errors: "Lỗi", Waiting: "Chờ mã hồ sơ"},
		Check:    Check{MinDPI: 200, MaxBytes: 30 << 20, Isolate: true, ParserMemory: 1 << 30, ParserCPU: Duration(time.Minute), Timeout: Duration(2 * time.Minute)},
		Link:     Link{Pattern: dossier.StrictPattern, Barcodes: "always"},
		Upload: Upload{
			Sink:          "dir",
			Concurrency:   1,
			QueueMaxBytes: 4 << 30,
			Retry:         Retry{MinBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute)},
			Dir:           DirSink{Path: "var/outbox", Link: true},
		},
		Archive: Archive{Retention: Duration(90 * 24 * time.Hour)},
		Registry: Registry{Pull: Pull{
			Method: "GET", DateFormat: search.DefaultDateFormat, PageSize: search.DefaultPageSize, Paging: search.PagingShort,
			MaxPages: search.DefaultMaxPages, MaxBytes: search.DefaultMaxBytes, Interval: Duration(search.DefaultInterval),
			LookbackDays: search.DefaultLookbackDays, Timeout: Duration(search.DefaultTimeout),
			Retry: PullRetry{Attempts: search.DefaultAttempts, MinBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute)},
		}},
		Pages: Pages{DropBlank: true, BlankWhite: 70, BlankMaxInk: 0.01},
	}
}

// Load reads a config file over the defaults. Errors name the file, the key
// and the line.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults and validates the result.
func Parse(b []byte) (Config, error) {
	c := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return Config{}, cleanYAMLError(err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return Config{}, cleanYAMLError(err)
		}
	}
	if err := c.validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			if line := lineOf(&root, ke.key); line > 0 {
				return Config{}, fmt.Errorf("line %d: %s: %s", line, ke.key, ke.msg)
			}
		}
		return Config{}, err
	}
	return c, nil
}

// cleanYAMLError makes yaml's "yaml: unmarshal errors:\n  line 3: field x not
// found in type config.Ward" read as one line that names the key.
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " not found in type "); i >= 0 {
			l = strings.Replace(l[:i], "field ", "unknown key ", 1)
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return errors.New(strings.Join(lines, "; "))
}

type keyError struct{ key, msg string }

func (e *keyError) Error() string { return e.key + ": " + e.msg }

func bad(key, format string, a ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, a...)}
}

func (c *Config) validate() error {
	switch {
	case c.Ward.Code == "":
		return bad("ward.code", "must be set to this unit's agency code, e.g. 000.00.12.H57")
	case strings.ContainsAny(c.Ward.Code, " /\\"):
		return bad("ward.code", "%q is not an agency code", c.Ward.Code)
	case c.Inbox == "":
		return bad("inbox", "must be set")
	case c.DataDir == "":
		return bad("data_dir", "must be set")
	case c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error":
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	case c.Link.Barcodes != "always" && c.Link.Barcodes != "unnamed" && c.Link.Barcodes != "off":
		return bad("link.barcodes", "%q is not one of always, unnamed, off", c.Link.Barcodes)
	case c.Watch.Mode != "events" && c.Watch.Mode != "poll":
		return bad("watch.mode", "%q is not one of events, poll", c.Watch.Mode)
	case c.Watch.Quiet <= 0:
		return bad("watch.quiet", "must be positive")
	case c.Watch.Rescan <= 0:
		return bad("watch.rescan", "must be positive")
	case c.Watch.Workers < 1 || c.Watch.Workers > 64:
		return bad("watch.workers", "%d is not between 1 and 64", c.Watch.Workers)
	case c.Check.MinDPI <= 0:
		return bad("check.min_dpi", "must be positive")
	case c.Check.MaxBytes <= 0:
		return bad("check.max_bytes", "must be positive")
	case c.Check.ParserMemory < 64<<20:
		return bad("check.parser_memory", "must be at least 64MiB")
	case c.Check.ParserCPU < Duration(time.Second):
		return bad("check.parser_cpu", "must be at least 1s")
	case c.Check.Timeout < Duration(time.Second):
		return bad("check.timeout", "must be at least 1s")
	case c.Check.Parsers < 0 || c.Check.Parsers > 64:
		return bad("check.parsers", "%d is not between 0 (automatic) and 64", c.Check.Parsers)
	case c.Upload.Concurrency < 1 || c.Upload.Concurrency > 64:
		return bad("upload.concurrency", "must be between 1 and 64")
	case c.Upload.QueueMaxBytes <= 0:
		return bad("upload.queue_max_bytes", "must be positive, e.g. 4GiB")
	case c.Upload.Retry.MinBackoff <= 0:
		return bad("upload.retry.min_backoff", "must be positive")
	case c.Upload.Retry.MaxBackoff < c.Upload.Retry.MinBackoff:
		return bad("upload.retry.max_backoff", "must not be below min_backoff")
	case c.Archive.Retention < 0:
		return bad("archive.retention", "must not be negative")
	case c.Pages.BlankWhite <= 0 || c.Pages.BlankWhite > 100:
		return bad("pages.blank_white_threshold", "must be a percentage above 0 and at most 100")
	case c.Pages.BlankMaxInk <= 0 || c.Pages.BlankMaxInk > 1:
		return bad("pages.blank_max_ink", "must be a percentage above 0 and at most 1 (a signature alone is about 0.15)")
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return bad("listen", "%q is not host:port", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return bad("listen", "bad port in %q", c.Listen)
	}
	if c.WebConfig != "" {
		if err := checkWebConfig(c.WebConfig); err != nil {
			return bad("web_config", "%v", err)
		}
	}
	for key, name := range map[string]string{"folders.errors": c.Folders.Errors, "folders.waiting": c.Folders.Waiting} {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
			return bad(key, "%q must be a plain folder name", name)
		}
	}
	if c.Folders.Errors == c.Folders.Waiting {
		return bad("folders.waiting", "must differ from folders.errors")
	}
	if _, err := dossier.NewGrammar(c.Link.Pattern); err != nil {
		return bad("link.pattern", "%v", err)
	}
	switch c.Upload.Sink {
	case "dir":
		if c.Upload.Dir.Path == "" {
			return bad("upload.dir.path", "must be set when upload.sink is dir")
		}
		if sameDir(c.Upload.Dir.Path, c.Inbox) {
			return bad("upload.dir.path", "must not be the inbox")
		}
	case "http":
		if err := c.Upload.HTTP.validate(); err != nil {
			return err
		}
	default:
		return bad("upload.sink", "%q is not one of dir, http", c.Upload.Sink)
	}
	if c.Registry.Pull.URL != "" {
		return c.Registry.Pull.validate()
	}
	return nil
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
		var ke *upload.KeyError
		if errors.As(err, &ke) {
			return bad(k+ke.Key, "%v", ke.Err)
		}
		return bad(k+"url", "%v", err)
	}
	if (p.TLS.CertFile == "") != (p.TLS.KeyFile == "") {
		return bad(k+"tls.cert_file", "cert_file and key_file go together")
	}
	return p.Auth.validate(k + "auth.")
}

// SearchConfig returns the pull's settings. The caller adds the client,
// authentication, grammar, ward, logger and metrics registerer.
func (p *Pull) SearchConfig() search.Config {
	return search.Config{URL: p.URL, Method: p.Method, Body: p.Body, Headers: p.Headers, DateFormat: p.DateFormat,
		PageSize: p.PageSize, FirstPage: p.FirstPage, Paging: p.Paging, MaxPages: p.MaxPages, MaxBytes: int64(p.MaxBytes),
		Paths: search.Paths(p.Paths), Timeout: time.Duration(p.Timeout), Attempts: p.Retry.Attempts,
		Backoff:  upload.Backoff{Min: time.Duration(p.Retry.MinBackoff), Max: time.Duration(p.Retry.MaxBackoff)},
		Interval: time.Duration(p.Interval), LookbackDays: p.LookbackDays}
}

// TransportConfig returns the pull's transport settings.
func (p *Pull) TransportConfig() upload.TransportConfig {
	return p.TLS.transport(p.ConnectTimeout, p.Timeout)
}

func (h *HTTP) validate() error {
	const k = "upload.http."
	if h.URL == "" {
		return bad(k+"url", "must be set when upload.sink is http")
	}
	if h.Body == upload.BodyRaw && h.FileField != "" {
		return bad(k+"file_field", "is not used with body raw")
	}
	if a := h.Attach; a != nil {
		if a.URL == "" {
			return bad(k+"attach.url", "must be set for a two-step upload")
		}
		if a.JSON != "" && len(a.Fields) > 0 {
			return bad(k+"attach.json", "json and fields cannot both be sent")
		}
	}
	if err := upload.CheckHTTPConfig(h.UploadConfig()); err != nil {
		var ke *upload.KeyError
		if errors.As(err, &ke) {
			return bad(k+ke.Key, "%v", ke.Err)
		}
		return bad(k+"url", "%v", err)
	}
	for key, d := range map[string]Duration{"timeout": h.Timeout, "connect_timeout": h.ConnectTimeout,
		"response_header_timeout": h.ResponseHeaderTimeout} {
		if d < 0 {
			return bad(k+key, "must not be negative")
		}
	}
	if h.RateLimit != 0 && h.RateLimit < 1024 {
		return bad(k+"rate_limit", "must be 0 (no limit) or at least 1KiB (bytes per second)")
	}
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		return bad(k+"tls.cert_file", "cert_file and key_file go together")
	}
	return h.Auth.validate("upload.http.auth.")
}

// request is the upload request h describes.
func (h *HTTP) request() upload.Request {
	return upload.Request{Method: h.Method, URL: h.URL, Body: h.Body, FileField: h.FileField, Fields: h.Fields,
		Headers: h.Headers, Accept: h.Accept}
}

// attachRequest is the attach request h describes (h.Attach is set): its
// headers are upload.http.headers, but for a Content-Type meant for a raw
// file, with attach.headers over them.
func (h *HTTP) attachRequest() upload.Request {
	a := h.Attach
	headers := map[string]string{}
	for name, v := range h.Headers {
		if !strings.EqualFold(name, "Content-Type") {
			headers[name] = v
		}
	}
	maps.Copy(headers, a.Headers)
	return upload.Request{Method: a.Method, URL: a.URL, JSON: a.JSON, Fields: a.Fields, Headers: headers, Accept: a.Accept}
}

// UploadConfig returns the sink's request description: the requests, the
// values for the attach request, the idempotency header and timeout. The
// caller adds the client, authentication and limiter.
func (h *HTTP) UploadConfig() upload.HTTPConfig {
	c := upload.HTTPConfig{Upload: h.request(), IdempotencyHeader: h.IdempotencyHeader, Timeout: time.Duration(h.Timeout)}
	if h.Attach != nil {
		a := h.attachRequest()
		c.Attach, c.Values = &a, h.Attach.Values
	}
	return c
}

// TransportConfig returns the sink's transport settings.
func (h *HTTP) TransportConfig() upload.TransportConfig {
	return h.TLS.transport(h.ConnectTimeout, h.ResponseHeaderTimeout)
}

func (t TLS) transport(connect, header Duration) upload.TransportConfig {
	return upload.TransportConfig{CAFile: expand(t.CAFile), CertFile: expand(t.CertFile), KeyFile: expand(t.KeyFile),
		ConnectTimeout: time.Duration(connect), ResponseHeaderTimeout: time.Duration(header)}
}

// AuthConfig returns the sink's authentication settings, with
// ${CREDENTIALS_DIRECTORY} and other variables in file names expanded.
func (a *Auth) AuthConfig() upload.AuthConfig {
	return upload.AuthConfig{Type: a.Type, Token: upload.Secret{File: expand(a.TokenFile), Env: a.TokenEnv},
		Username: a.Username, Password: upload.Secret{File: expand(a.PasswordFile), Env: a.PasswordEnv},
		TokenURL: a.TokenURL, ClientID: a.ClientID,
		ClientSecret: upload.Secret{File: expand(a.ClientSecretFile), Env: a.ClientSecretEnv}, Scopes: a.Scopes}
}

func expand(path string) string {
	if path == "" {
		return ""
	}
	return os.ExpandEnv(path)
}

// validate checks the auth block whose keys start with k.
func (a *Auth) validate(k string) error {
	typ := a.Type
	if typ == "" {
		typ = upload.AuthNone
	}
	if !slices.Contains(upload.AuthTypes, typ) {
		return bad(k+"type", "%q is not one of %s", a.Type, strings.Join(upload.AuthTypes, ", "))
	}
	// Which keys each type uses; any other key set is a mistake.
	uses := map[string][]string{
		upload.AuthNone:                    nil,
		upload.AuthBearer:                  {"token_file", "token_env"},
		upload.AuthBasic:                   {"username", "password_file", "password_env"},
		upload.AuthOAuth2ClientCredentials: {"token_url", "client_id", "client_secret_file", "client_secret_env", "scopes"},
		upload.AuthOAuth2Password: {"token_url", "client_id", "client_secret_file", "client_secret_env", "scopes",
			"username", "password_file", "password_env"},
	}[typ]
	set := map[string]bool{"token_file": a.TokenFile != "", "token_env": a.TokenEnv != "", "username": a.Username != "",
		"password_file": a.PasswordFile != "", "password_env": a.PasswordEnv != "", "token_url": a.TokenURL != "",
		"client_id": a.ClientID != "", "client_secret_file": a.ClientSecretFile != "",
		"client_secret_env": a.ClientSecretEnv != "", "scopes": len(a.Scopes) > 0}
	for _, key := range slices.Sorted(maps.Keys(set)) {
		if set[key] && !slices.Contains(uses, key) {
			return bad(k+key, "is not used with auth type %s", typ)
		}
	}
	one := func(file, env string) error {
		switch {
		case set[file] && set[env]:
			return bad(k+env, "set %s or %s, not both", file, env)
		case !set[file] && !set[env]:
			return bad(k+"type", "%s needs %s or %s", typ, file, env)
		}
		return nil
	}
	switch typ {
	case upload.AuthBearer:
		return one("token_file", "token_env")
	case upload.AuthBasic:
		if !set["username"] {
			return bad(k+"type", "basic needs username")
		}
		return one("password_file", "password_env")
	case upload.AuthOAuth2ClientCredentials, upload.AuthOAuth2Password:
		u, err := url.Parse(a.TokenURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad(k+"token_url", "must be the token endpoint's http:// or https:// URL")
		}
		if !set["client_id"] {
			return bad(k+"client_id", "must be set for %s", typ)
		}
		if set["client_secret_file"] && set["client_secret_env"] {
			return bad(k+"client_secret_env", "set client_secret_file or client_secret_env, not both")
		}
		if typ == upload.AuthOAuth2ClientCredentials {
			return one("client_secret_file", "client_secret_env")
		}
		if !set["username"] {
			return bad(k+"username", "must be set for %s", typ)
		}
		return one("password_file", "password_env")
	}
	return nil
}

func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// lineOf finds the line of a dotted key in a YAML document, 0 if absent.
func lineOf(doc *yaml.Node, key string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// Duration is a time.Duration written as "30s", "5m", "2160h".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s, 5m or 24h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ByteSize is a size written as a number of bytes or with a unit: 30MiB, 500KB, 1GiB.
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = ByteSize(v)
	return nil
}

// ParseByteSize parses "31457280", "30MiB", "30 MB", "1.5GiB".
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as 30MiB", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}
	m, ok := mult[strings.ToUpper(unit)]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit (B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return int64(f * m), nil
}
