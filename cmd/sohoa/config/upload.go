package config

import (
	"maps"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/upload"
)

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

	// IdempotencyHeader carries the upload's key, per dossier and content, on every request.
	IdempotencyHeader     string   `yaml:"idempotency_header"`      // default Idempotency-Key
	Timeout               Duration `yaml:"timeout"`                 // whole request; default 10m
	ConnectTimeout        Duration `yaml:"connect_timeout"`         // TCP connect and TLS handshake; default 30s
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"` // answer after the body was sent; default 2m
	RateLimit             ByteSize `yaml:"rate_limit"`              // bytes per second for all uploads together; 0: none

	// HTTPConfig holds tls and auth: how the sink reaches the provincial
	// system, shared with the registry pull.
	province.HTTPConfig `yaml:",inline"`

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
		return keyed(k, err)
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
	return keyed(k, h.HTTPConfig.Check())
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
