package province

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// reasonBytes is how much of an answer Snippet keeps.
const reasonBytes = 512

// Snippet makes the first bytes of an answer fit for a log line and a
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

// Redact drops what a URL may carry that logs must not: credentials and the
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

// RedactString is Redact of a URL in text form (a Location header).
func RedactString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unreadable)"
	}
	return Redact(u)
}

// WithoutCredentials blanks in an answer the credentials its request
// carried, should the server echo them (some APIs answer an error with the
// request's headers or form), before the answer is logged or kept as a
// parked upload's reason: the Authorization value, its token or base64
// part, a basic password, and the secrets given, in every form
// RedactSecrets knows.
func WithoutCredentials(b []byte, req *http.Request, secrets ...string) []byte {
	if req != nil {
		if h := req.Header.Get("Authorization"); h != "" {
			secrets = append(secrets, h)
			if _, cred, ok := strings.Cut(h, " "); ok {
				secrets = append(secrets, cred)
			}
			if _, pass, ok := req.BasicAuth(); ok {
				secrets = append(secrets, pass)
			}
		}
	}
	return RedactSecrets(b, secrets...)
}
