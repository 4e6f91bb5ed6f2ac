package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// Body kinds of a Request.
const (
	BodyMultipart = "multipart" // multipart/form-data: the Fields, then the file under FileField
	BodyRaw       = "raw"       // the file itself
	BodyJSON      = "json"      // the JSON template
	BodyForm      = "form"      // the Fields, application/x-www-form-urlencoded
	BodyNone      = "none"      // no body
)

// Request describes one HTTP request of an upload. Method, URL, field
// values, header values and JSON are Templates over Variables (and, in
// HTTPConfig.Attach, the names of HTTPConfig.Values).
type Request struct {
	Method string // "": POST
	URL    string
	// Body is BodyMultipart ("" too) or BodyRaw for the upload itself,
	// BodyJSON, BodyForm or BodyNone for the attach request.
	Body      string
	FileField string // multipart: the file's field name; "": "file"
	Fields    map[string]string
	JSON      string
	Headers   map[string]string
	// Accept lists statuses besides 2xx that also mean success: the
	// server's "already have it" (409, say).
	Accept []int
}

// HTTPConfig describes uploads to a provincial system's HTTP API.
type HTTPConfig struct {
	Upload Request
	// Attach is an optional second request for two-step APIs such as VNPT
	// iGate's: the file is uploaded first, then the dossier is updated to
	// reference it. The job is done only when both succeeded; after a
	// failure or a crash between them, the next attempt sends only Attach.
	Attach *Request
	// Values, for Attach: name -> JSON path in Upload's response ("data.id",
	// "files[0].fileId"). Each name is a placeholder of Attach's templates.
	Values map[string]string
	// IdempotencyHeader carries the scan's SHA-256 on every request; "":
	// Idempotency-Key.
	IdempotencyHeader string
	// Timeout bounds each whole request, body and answer included; 0: 10m.
	Timeout time.Duration
	// Client sends the requests; nil: NewClient(TransportConfig{}).
	Client *http.Client
	// Auth puts credentials on each request; nil: none.
	Auth Authenticator
	// Limiter paces the bytes of every file sent, shared by all uploads; nil:
	// no limit. See NewLimiter.
	Limiter *rate.Limiter
	// Now reads Retry-After dates; nil: time.Now.
	Now func() time.Time
}

// maxErrorBody is how much of a refusal is read; maxValueBody how much of a
// first response is read for Values.
const (
	maxErrorBody = 4 << 10
	maxValueBody = 1 << 20
	reasonBytes  = 512
)

// HTTPSink uploads to an HTTP API described by an HTTPConfig. Every request
// carries the scan's SHA-256 as an idempotency key, and an RFC 9530
// Content-Digest: the file's as a header of a raw body, in the file's part
// of a multipart body, the body's own for JSON and form bodies. 2xx and the
// accepted statuses are success. Failures are
// *Error: network, timeout, 408, 429 and 5xx are retried (with the server's
// Retry-After), 401 and 403 are auth failures, retried after a renewal,
// other 4xx are Permanent. An HTTPSink is safe for concurrent use.
type HTTPSink struct {
	upload, attach *request
	values         map[string]JSONPath
	idemHeader     string
	timeout        time.Duration
	client         *http.Client
	auth           Authenticator
	limiter        *rate.Limiter
	now            func() time.Time
}

type request struct {
	method, url Template
	body        string
	fileField   string
	fields      []field
	json        Template
	headers     []field
	accept      []int
}

type field struct {
	name  string
	value Template
}

// NewHTTPSink checks c and returns its sink. Mistakes in c are *KeyError.
func NewHTTPSink(c HTTPConfig) (*HTTPSink, error) {
	s, err := compileConfig(c)
	if err != nil {
		return nil, err
	}
	s.timeout, s.client, s.auth, s.limiter, s.now = orDefault(c.Timeout, 10*time.Minute), c.Client, c.Auth, c.Limiter, c.Now
	if s.client == nil {
		if s.client, err = NewClient(TransportConfig{}); err != nil {
			return nil, err
		}
	}
	if s.auth == nil {
		s.auth = noAuth{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// CheckHTTPConfig reports the first mistake NewHTTPSink would find in c's
// requests, as a *KeyError whose Key is the configuration's key below
// upload.http ("url", "fields.maHoSo", "attach.values.file_id"); nil when
// there is none. It reads no file and builds no client.
func CheckHTTPConfig(c HTTPConfig) error {
	_, err := compileConfig(c)
	return err
}

func compileConfig(c HTTPConfig) (*HTTPSink, error) {
	s := &HTTPSink{idemHeader: c.IdempotencyHeader}
	if s.idemHeader == "" {
		s.idemHeader = "Idempotency-Key"
	}
	if !ValidHeaderName(s.idemHeader) {
		return nil, keyErr("idempotency_header", fmt.Errorf("%q is not a header name", s.idemHeader))
	}
	var err error
	if s.upload, err = s.compile(c.Upload, Variables, true); err != nil {
		return nil, err
	}
	if c.Attach == nil {
		if len(c.Values) > 0 {
			return nil, keyErr("attach.values", errors.New("values of the first answer are only for an attach request"))
		}
		return s, nil
	}
	if len(c.Values) == 0 {
		return nil, keyErr("attach.values", errors.New("must name at least one value of the upload's answer, e.g. {file_id: data.id}"))
	}
	s.values = map[string]JSONPath{}
	for _, name := range slices.Sorted(maps.Keys(c.Values)) {
		if !isName(name) || slices.Contains(Variables, name) {
			return nil, keyErr("attach.values", fmt.Errorf("%q must be lower-case letters, digits and _, and not one of %s",
				name, strings.Join(Variables, ", ")))
		}
		if s.values[name], err = ParseJSONPath(c.Values[name]); err != nil {
			return nil, keyErr("attach.values."+name, err)
		}
	}
	names := append(slices.Clone(Variables), slices.Sorted(maps.Keys(s.values))...)
	if s.attach, err = s.compile(*c.Attach, names, false); err != nil {
		var ke *KeyError
		if errors.As(err, &ke) {
			ke.Key = "attach." + ke.Key
		}
		return nil, err
	}
	return s, nil
}

func isName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func (s *HTTPSink) compile(r Request, names []string, withFile bool) (*request, error) {
	c := &request{body: r.Body, fileField: r.FileField, accept: r.Accept}
	var err error
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	if c.method, err = ParseTemplate(method, names); err != nil {
		return nil, keyErr("method", err)
	}
	if m := c.method.Render(sampleVars(names), nil); !ValidHeaderName(m) {
		return nil, keyErr("method", fmt.Errorf("%q is not an HTTP method", method))
	}
	if c.url, err = ParseTemplate(r.URL, names); err != nil {
		return nil, keyErr("url", err)
	}
	u, err := url.Parse(c.url.RenderURL(sampleVars(names)))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, keyErr("url", fmt.Errorf("%q is not an http:// or https:// URL", r.URL))
	}
	if u.User != nil {
		return nil, keyErr("url", errors.New("must not carry credentials; use auth"))
	}
	switch {
	case withFile && c.body == "":
		c.body = BodyMultipart
	case !withFile && c.body == "" && r.JSON != "":
		c.body = BodyJSON
	case !withFile && c.body == "" && len(r.Fields) > 0:
		c.body = BodyForm
	case !withFile && c.body == "":
		c.body = BodyNone
	}
	switch {
	case withFile && c.body != BodyMultipart && c.body != BodyRaw:
		return nil, keyErr("body", fmt.Errorf("%q: the upload is sent as %s or %s", c.body, BodyMultipart, BodyRaw))
	case !withFile && c.body != BodyJSON && c.body != BodyForm && c.body != BodyNone:
		return nil, keyErr("body", fmt.Errorf("%q: the attach request is sent as %s, %s or %s", c.body, BodyJSON, BodyForm, BodyNone))
	case len(r.Fields) > 0 && c.body != BodyMultipart && c.body != BodyForm:
		return nil, keyErr("fields", fmt.Errorf("are sent only with body %s or %s", BodyMultipart, BodyForm))
	case r.JSON != "" && c.body != BodyJSON:
		return nil, keyErr("json", fmt.Errorf("is sent only with body %s", BodyJSON))
	case c.body == BodyJSON && r.JSON == "":
		return nil, keyErr("json", errors.New("must be set with body json"))
	}
	if c.body == BodyMultipart && c.fileField == "" {
		c.fileField = "file"
	}
	for _, name := range slices.Sorted(maps.Keys(r.Fields)) {
		if name == "" {
			return nil, keyErr("fields", errors.New("a field has no name"))
		}
		t, err := ParseTemplate(r.Fields[name], names)
		if err != nil {
			return nil, keyErr("fields."+name, err)
		}
		c.fields = append(c.fields, field{name, t})
	}
	if c.body == BodyJSON {
		if c.json, err = ParseTemplate(r.JSON, names); err != nil {
			return nil, keyErr("json", err)
		}
		// {size} and {pages} are numbers; a value of the first answer may be
		// either, quoted or not.
		asText, asNumber := sampleVars(names), sampleVars(names)
		for _, n := range names {
			if !slices.Contains(Variables, n) {
				asNumber[n] = "1"
			}
		}
		if !json.Valid([]byte(c.json.Render(asText, jsonEscape))) && !json.Valid([]byte(c.json.Render(asNumber, jsonEscape))) {
			return nil, keyErr("json", fmt.Errorf("%q does not give valid JSON", r.JSON))
		}
	}
	forbidden := []string{"Authorization", "Content-Length", "Transfer-Encoding", "Host", "Content-Digest", "Expect",
		http.CanonicalHeaderKey(s.idemHeader)}
	if c.body == BodyMultipart || c.body == BodyForm {
		forbidden = append(forbidden, "Content-Type")
	}
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		if !ValidHeaderName(name) {
			return nil, keyErr("headers", fmt.Errorf("%q is not a header name", name))
		}
		if slices.Contains(forbidden, http.CanonicalHeaderKey(name)) {
			return nil, keyErr("headers."+name, errors.New("is set by sohoa (credentials go under auth)"))
		}
		t, err := ParseTemplate(r.Headers[name], names)
		if err != nil {
			return nil, keyErr("headers."+name, err)
		}
		c.headers = append(c.headers, field{name, t})
	}
	for _, code := range c.accept {
		if code < 200 || code > 499 {
			return nil, keyErr("accept", fmt.Errorf("status %d is not between 200 and 499", code))
		}
	}
	return c, nil
}

// KeyError is a mistake in one part of a Request: Key names it as the
// configuration does ("url", "fields.maHoSo", "headers.X-Unit").
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(key string, err error) error { return &KeyError{Key: key, Err: err} }

// sampleVars gives each name a value that exercises escaping (a number
// for {size} and {pages}), to check that templates render to a valid URL or
// JSON.
func sampleVars(names []string) map[string]string {
	v := map[string]string{}
	for _, n := range names {
		v[n] = `000.00.12.H57-200320-0001 "Hồ sơ"/1`
		if n == "size" || n == "pages" {
			v[n] = "1024"
		}
	}
	return v
}

// ValidHeaderName reports whether s is an HTTP header name (a token).
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Put implements Sink: the upload request, then, for a two-step API, the
// attach request with the values of the first response, recorded with
// it.Save in between so that a later attempt resumes at the second.
func (s *HTTPSink) Put(ctx context.Context, it Item) error {
	vars := map[string]string{
		"dossier": it.Dossier, "filename": it.Name, "sha256": it.SHA256,
		"size": strconv.FormatInt(it.Size, 10), "ward": it.Ward, "pages": strconv.Itoa(it.Pages),
	}
	if s.attach == nil {
		_, err := s.send(ctx, s.upload, it, vars, false)
		return err
	}
	got := map[string]string{}
	for name := range s.values {
		if v := it.Progress[name]; v != "" {
			got[name] = v
		}
	}
	if len(got) < len(s.values) {
		body, err := s.send(ctx, s.upload, it, vars, true)
		if err != nil {
			return err
		}
		for name, path := range s.values {
			v, err := path.Lookup(body)
			if err != nil {
				return &Error{Kind: KindHTTP4xx, Permanent: true, Err: fmt.Errorf(
					"the upload succeeded but its answer has no value for {%s} (%s): %w; answer: %s",
					name, path, err, Snippet(body))}
			}
			got[name] = v
		}
		if it.Save != nil {
			if err := it.Save(got); err != nil {
				return err
			}
		}
	}
	maps.Copy(vars, got)
	_, err := s.send(ctx, s.attach, it, vars, false)
	return err
}

// send makes one request, and once more after a 401 when the
// Authenticator has other credentials. It returns up to maxValueBody of a
// successful answer when keep is set.
func (s *HTTPSink) send(ctx context.Context, r *request, it Item, vars map[string]string, keep bool) ([]byte, error) {
	body, renewed, err := s.once(ctx, r, it, vars, keep, true)
	if renewed {
		body, _, err = s.once(ctx, r, it, vars, keep, false)
	}
	return body, err
}

// once makes one request. renewed is set when it was refused with 401 and
// the credentials were renewed (only when mayRenew).
func (s *HTTPSink) once(ctx context.Context, r *request, it Item, vars map[string]string, keep, mayRenew bool) (body []byte, renewed bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, src, err := s.newRequest(rctx, r, it, vars)
	if err != nil {
		return nil, false, err
	}
	if err := s.auth.Authorize(rctx, req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, false, s.contextError(ctx, rctx, err)
	}
	where := req.Method + " " + Redact(req.URL)
	resp, err := s.client.Do(req)
	if err != nil {
		if e := src.get(); e != nil {
			return nil, false, &Error{Kind: KindSource, Err: e}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the whole URL, query included
		}
		if e := s.contextError(ctx, rctx, err); e != err {
			return nil, false, e
		}
		return nil, false, &Error{Kind: transportKindOr(err, KindNetwork), Err: fmt.Errorf("%s: %w", where, err)}
	}
	defer resp.Body.Close()
	ok := resp.StatusCode/100 == 2 || slices.Contains(r.accept, resp.StatusCode)
	limit := int64(maxErrorBody)
	if ok && keep {
		limit = maxValueBody
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, limit))
	if ok {
		if rerr != nil && keep {
			return nil, false, s.contextError(ctx, rctx, &Error{Kind: transportKindOr(rerr, KindNetwork),
				Err: fmt.Errorf("%s: reading the answer: %w", where, rerr)})
		}
		return body, false, nil
	}
	if resp.StatusCode == http.StatusUnauthorized && mayRenew {
		renewed, err := s.auth.Renew(rctx, req)
		if err != nil {
			return nil, false, s.contextError(ctx, rctx, err)
		}
		if renewed {
			return nil, true, nil
		}
	}
	return nil, false, s.statusError(resp, where, body)
}

// contextError turns a failure caused by the request's own deadline into a
// timeout; the caller's cancellation is returned as it is.
func (s *HTTPSink) contextError(parent, rctx context.Context, err error) error {
	if parent.Err() != nil {
		return err
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return &Error{Kind: KindTimeout, Err: fmt.Errorf("no complete answer within %v: %w", s.timeout, err)}
	}
	return err
}

// statusError classifies a refusal.
func (s *HTTPSink) statusError(resp *http.Response, where string, body []byte) *Error {
	code := resp.StatusCode
	msg := fmt.Sprintf("%s: HTTP %s: %s", where, resp.Status, Snippet(withoutCredentials(body, resp.Request)))
	e := &Error{Status: code}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = KindAuth
	case code == http.StatusRequestTimeout:
		e.Kind = KindTimeout
	case code == http.StatusTooManyRequests:
		e.Kind = KindHTTP4xx
	case code >= 500:
		e.Kind = KindHTTP5xx
	case code >= 300 && code < 400:
		e.Kind, e.Permanent = KindHTTP4xx, true
		msg = fmt.Sprintf("%s: HTTP %s to %q: redirects are not followed; correct the URL", where, resp.Status,
			redactString(resp.Header.Get("Location")))
	default:
		e.Kind, e.Permanent = KindHTTP4xx, true
	}
	if !e.Permanent {
		e.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), s.now())
	}
	e.Err = errors.New(msg)
	return e
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func RetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, int64(7*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// transportKind is the kind of a failure to talk to a server: timeout,
// network, or "" when err is not such a failure.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return KindTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return KindNetwork
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return KindNetwork
	}
	return ""
}

func transportKindOr(err error, def string) string {
	if k := transportKind(err); k != "" {
		return k
	}
	return def
}

// snippet makes the first bytes of an answer fit for a log line and a
// parked job's reason.
func Snippet(b []byte) string {
	if len(b) > reasonBytes {
		b = b[:reasonBytes]
		for len(b) > 0 && !utf8.Valid(b) && !utf8.RuneStart(b[len(b)-1]) {
			b = b[:len(b)-1]
		}
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if s == "" {
		return "(empty answer)"
	}
	return s
}

// redact drops what a URL may carry that logs must not: credentials and the
// query (an API key, say).
func Redact(u *url.URL) string {
	r := *u
	r.User = nil
	if r.RawQuery != "" {
		r.RawQuery = "…"
	}
	r.Fragment = ""
	return r.String()
}

func redactString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable)"
	}
	return Redact(u)
}

// digest is an RFC 9530 Content-Digest field value for a SHA-256.
func digest(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// newRequest builds a request whose body, when it carries the file, is
// streamed from the file (never held in memory) and checked against the
// scan's SHA-256 on the way.
func (s *HTTPSink) newRequest(ctx context.Context, r *request, it Item, vars map[string]string) (*http.Request, *sourceError, error) {
	method := strings.ToUpper(r.method.Render(vars, nil))
	target := r.url.RenderURL(vars)
	src := &sourceError{}
	h := http.Header{}
	for _, f := range r.headers {
		h.Set(f.name, headerValue(f.value.Render(vars, nil)))
	}
	h.Set(s.idemHeader, it.SHA256)

	var open func() (io.ReadCloser, error)
	var length int64
	switch r.body {
	case BodyMultipart, BodyRaw:
		sum, err := hex.DecodeString(it.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, nil, &Error{Kind: KindSource, Err: fmt.Errorf("%q is not a SHA-256", it.SHA256)}
		}
		fi, err := os.Stat(it.Path)
		if err != nil {
			return nil, nil, &Error{Kind: KindSource, Err: err}
		}
		if fi.Size() != it.Size {
			return nil, nil, &Error{Kind: KindSource, Err: fmt.Errorf("%s: %d bytes, want %d", it.Path, fi.Size(), it.Size)}
		}
		var pre, post []byte
		if r.body == BodyMultipart {
			pre, post = s.multipart(r, it, vars, digest(sum), h)
		} else {
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/pdf")
			}
			h.Set("Content-Digest", digest(sum))
		}
		length = int64(len(pre)) + it.Size + int64(len(post))
		open = func() (io.ReadCloser, error) {
			f, err := os.Open(it.Path)
			if err != nil {
				src.set(err)
				return nil, err
			}
			var body io.Reader = &verifier{r: f, h: sha256.New(), want: it.SHA256, size: it.Size, src: src, path: it.Path}
			if s.limiter != nil {
				body = &limitedReader{ctx: ctx, r: body, lim: s.limiter}
			}
			if pre != nil {
				body = io.MultiReader(bytes.NewReader(pre), body, bytes.NewReader(post))
			}
			return readCloser{body, f}, nil
		}
		h.Set("Expect", "100-continue")
	case BodyJSON, BodyForm:
		var b []byte
		if r.body == BodyJSON {
			b = []byte(r.json.Render(vars, jsonEscape))
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/json")
			}
		} else {
			form := url.Values{}
			for _, f := range r.fields {
				form.Set(f.name, f.value.Render(vars, nil))
			}
			b = []byte(form.Encode())
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		sum := sha256.Sum256(b)
		h.Set("Content-Digest", digest(sum[:]))
		length = int64(len(b))
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}

	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, nil, &Error{Kind: KindHTTP4xx, Permanent: true, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header = h
	if open != nil {
		body, err := open()
		if err != nil {
			return nil, nil, &Error{Kind: KindSource, Err: err}
		}
		req.Body, req.GetBody, req.ContentLength = body, open, length
		if length == 0 {
			req.Body = http.NoBody
			body.Close()
		}
	}
	return req, src, nil
}

// multipart returns the bytes before and after the file's content in a
// multipart/form-data body, and sets its Content-Type in h. The file's part
// carries its Content-Digest: RFC 9530's field for the request would have to
// cover the whole multipart body, which costs a second pass over the file.
func (s *HTTPSink) multipart(r *request, it Item, vars map[string]string, dig string, h http.Header) (pre, post []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range r.fields {
		_ = mw.WriteField(f.name, f.value.Render(vars, nil)) // writes to memory
	}
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Disposition", multipart.FileContentDisposition(r.fileField, headerValue(it.Name)))
	ph.Set("Content-Type", "application/pdf")
	ph.Set("Content-Digest", dig)
	_, _ = mw.CreatePart(ph)
	pre = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = mw.Close()
	post = bytes.Clone(buf.Bytes())
	h.Set("Content-Type", mw.FormDataContentType())
	return pre, post
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sourceError remembers that reading our own copy of the scan failed, to
// tell it from a network failure when the transport reports either.
type sourceError struct {
	mu  sync.Mutex
	err error
}

func (s *sourceError) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *sourceError) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// verifier reads the file and fails, before it passes on the last bytes,
// when the content is not the one the job names: the server then gets an
// incomplete body, never a wrong file. (Hashing on the way costs SHA-256's
// CPU time, about 2 ms per 4 MB, done while the previous bytes are sent.)
type verifier struct {
	r    io.Reader
	h    hash.Hash
	want string
	size int64
	n    int64
	done bool
	src  *sourceError
	path string
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	if rem := v.size - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	var err error
	if len(p) > 0 {
		n, err = v.r.Read(p)
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n == v.size {
		var one [1]byte
		if m, _ := io.ReadFull(v.r, one[:]); m > 0 {
			return 0, v.fail(fmt.Errorf("%s grew beyond %d bytes", v.path, v.size))
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return 0, v.fail(fmt.Errorf("%s: content changed in the data dir (sha256 %s, want %s)", v.path, got, v.want))
		}
		v.done = true
		return n, nil
	}
	switch {
	case err == io.EOF:
		return 0, v.fail(fmt.Errorf("%s shrank to %d bytes, want %d", v.path, v.n, v.size))
	case err != nil:
		return 0, v.fail(err)
	}
	return n, nil
}

func (v *verifier) fail(err error) error {
	v.src.set(err)
	return err
}
