// Package province is sohoa's client of the provincial one-stop system's
// HTTP API, shared by the upload sink and the registry pull: the transport
// (verified TLS with an extra CA and a client certificate, the proxy,
// timeouts, no redirects), the authentication flavours, request templates
// and JSON paths, the kinds of failure, Retry-After, answer snippets with
// credentials and URL queries redacted, and the backoff between attempts.
// HTTPConfig is the part of a component's configuration that says how to
// reach the system, and New turns it into a client and its Authenticator.
package province

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Failure kinds of a request to the provincial system, used as metric label
// values. A component may add kinds of its own.
const (
	KindNetwork = "network"
	KindTimeout = "timeout"
	KindHTTP4xx = "http_4xx"
	KindHTTP5xx = "http_5xx"
	KindAuth    = "auth"
)

// Error is a failed request with its kind.
type Error struct {
	Kind string
	Err  error
	// Status is the HTTP status of a refusal, 0 when there was none.
	Status int
	// Permanent means that retrying cannot help until a person acts (an
	// HTTP 400): the job is parked instead of retried.
	Permanent bool
	// RetryAfter is the server's Retry-After: retry no sooner (0: no advice).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KeyError is a mistake in one part of a configuration: Key names it as the
// configuration does ("url", "fields.maHoSo", "headers.X-Unit", "auth.type").
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

// TransportKind is the kind of a failure to talk to a server: timeout,
// network, or "" when err is not such a failure.
func TransportKind(err error) string {
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

// RetryAfter reads a Retry-After header: seconds or an HTTP date.
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
