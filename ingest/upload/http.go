package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
)

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
	// IdempotencyHeader carries the upload's idempotency key (see
	// IdempotencyKey) on every request; "": Idempotency-Key.
	IdempotencyHeader string
	// Timeout bounds each whole request, body and answer included; 0: 10m.
	Timeout time.Duration
	// Client sends the requests; nil: province.NewClient(province.TransportConfig{}).
	Client *http.Client
	// Auth puts credentials on each request; nil: none.
	Auth province.Authenticator
	// Limiter paces the bytes of every file sent, shared by all uploads; nil:
	// no limit. See NewLimiter.
	Limiter *rate.Limiter
	// Now reads Retry-After dates; nil: time.Now.
	Now func() time.Time
}

// IdempotencyKey is the idempotency key of the upload of a content (sha,
// its hex SHA-256) to one dossier: the hex SHA-256 of "<dossier>/<sha>".
// Every attempt of that pair carries the same key, so the provincial system
// keeps one copy however often it is sent; the same content for another
// dossier has another key, and is kept for that dossier too.
func IdempotencyKey(dossier, sha string) string {
	sum := sha256.Sum256([]byte(dossier + "/" + sha))
	return hex.EncodeToString(sum[:])
}

// jobKey is a job's idempotency key: per pair, or, for a job queued before
// keys were per pair, its content's SHA-256, as its first attempts sent it.
func jobKey(j store.Job) string {
	if j.ContentKey {
		return j.Content
	}
	return IdempotencyKey(j.Dossier, j.Content)
}

// key is the item's idempotency key.
func (it Item) key() string {
	if it.Key != "" {
		return it.Key
	}
	return IdempotencyKey(it.Dossier, it.SHA256)
}

// maxErrorBody is how much of a refusal is read; maxValueBody how much of a
// first response is read for Values.
const (
	maxErrorBody = 4 << 10
	maxValueBody = 1 << 20
	reasonBytes  = 512
)

// HTTPSink uploads to an HTTP API described by an HTTPConfig. Every request
// carries an idempotency key per pair (dossier, content), and an RFC 9530
// Content-Digest: the file's as a header of a raw body, in the file's part
// of a multipart body, the body's own for JSON and form bodies. 2xx and the
// accepted statuses are success. Failures are
// *Error: network, timeout, 408, 429 and 5xx are retried (with the server's
// Retry-After), 401 and 403 are auth failures, retried after a renewal,
// other 4xx are Permanent. An HTTPSink is safe for concurrent use.
type HTTPSink struct {
	upload, attach *request
	values         map[string]province.JSONPath
	idemHeader     string
	timeout        time.Duration
	client         *http.Client
	auth           province.Authenticator
	limiter        *rate.Limiter
	now            func() time.Time
}

// NewHTTPSink checks c and returns its sink. Mistakes in c are
// *province.KeyError.
func NewHTTPSink(c HTTPConfig) (*HTTPSink, error) {
	s, err := compileConfig(c)
	if err != nil {
		return nil, err
	}
	s.timeout, s.client, s.auth, s.limiter, s.now = c.Timeout, c.Client, c.Auth, c.Limiter, c.Now
	if s.timeout <= 0 {
		s.timeout = 10 * time.Minute
	}
	if s.client == nil {
		if s.client, err = province.NewClient(province.TransportConfig{}); err != nil {
			return nil, err
		}
	}
	if s.auth == nil {
		s.auth = province.NoAuth{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
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
					name, path, err, province.Snippet(body))}
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
	where := req.Method + " " + province.Redact(req.URL)
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
	msg := fmt.Sprintf("%s: HTTP %s: %s", where, resp.Status, province.Snippet(province.WithoutCredentials(body, resp.Request)))
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
			province.RedactString(resp.Header.Get("Location")))
	default:
		e.Kind, e.Permanent = KindHTTP4xx, true
	}
	if !e.Permanent {
		e.RetryAfter = province.RetryAfter(resp.Header.Get("Retry-After"), s.now())
	}
	e.Err = errors.New(msg)
	return e
}

func transportKindOr(err error, def string) string {
	if k := province.TransportKind(err); k != "" {
		return k
	}
	return def
}
