package province

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// The secrets of the tests below: every character an encoding changes.
const (
	testClientSecret = `cl/ient+s3cr"et\&ñ`
	testPassword     = `mật khẩu "1" <2>`
)

// secretForms lists the forms of s an answer may carry.
func secretForms(s string) map[string]string {
	j, _ := json.Marshal(s)
	js := strings.Trim(string(j), `"`)
	return map[string]string{
		"raw": s, "url": url.QueryEscape(s), "url lower": lowerHex(url.QueryEscape(s)), "path": url.PathEscape(s),
		"json": js, "json ascii": asciiJSON(js, false), "json ASCII": asciiJSON(js, true),
		"json in json": strings.Trim(string(must(json.Marshal(js))), `"`), "html": html.EscapeString(s),
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

var pctHex = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerHex(s string) string { return pctHex.ReplaceAllStringFunc(s, strings.ToLower) }

// asciiJSON writes every non-ASCII character of a JSON string's text as
// \uXXXX (as Python's json.dumps does), slashes as \/ (as PHP's does).
func asciiJSON(s string, upper bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '/':
			b.WriteString(`\/`)
		case r >= utf8.RuneSelf:
			f := "\\u%04x"
			if upper {
				f = "\\u%04X"
			}
			fmt.Fprintf(&b, f, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestTokenRefusalIsRedacted: a token endpoint on loopback refuses the
// password grant with an answer that echoes the form and the Authorization
// header, in each encoding; the error (what the log line and a parked
// reason show) holds neither secret in any form.
func TestTokenRefusalIsRedacted(t *testing.T) {
	echoes := map[string]func(r *http.Request, body string) string{
		"form as sent":         func(_ *http.Request, body string) string { return body },
		"form, lower-case hex": func(_ *http.Request, body string) string { return lowerHex(body) },
		"plain": func(r *http.Request, _ string) string {
			return "bad client_secret=" + r.PostForm.Get("client_secret") + " password=" + r.PostForm.Get("password")
		},
		"json": func(r *http.Request, _ string) string { return string(must(json.Marshal(r.PostForm))) },
		"json ascii": func(r *http.Request, _ string) string {
			return asciiJSON(string(must(json.Marshal(r.PostForm))), false)
		},
		"json in json": func(r *http.Request, _ string) string {
			return string(must(json.Marshal(map[string]string{"detail": string(must(json.Marshal(r.PostForm)))})))
		},
		"html": func(r *http.Request, _ string) string {
			return "<p>" + html.EscapeString(r.PostForm.Get("client_secret")+" "+r.PostForm.Get("password")) + "</p>"
		},
	}
	for name, echo := range echoes {
		t.Run(name, func(t *testing.T) {
			var auths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b := make([]byte, 4096)
				n, _ := r.Body.Read(b)
				body := string(b[:n])
				r.PostForm, _ = url.ParseQuery(body)
				if h := r.Header.Get("Authorization"); h != "" {
					auths = append(auths, h)
					body += " Authorization: " + h
				}
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, echo(r, body))
			}))
			defer srv.Close()
			t.Setenv("SOHOA_TEST_CLIENT_SECRET", testClientSecret)
			t.Setenv("SOHOA_TEST_PASSWORD", testPassword)
			a, err := NewAuth(AuthConfig{Type: AuthOAuth2Password, TokenURL: srv.URL + "/token", ClientID: "sohoa",
				ClientSecret: Secret{Env: "SOHOA_TEST_CLIENT_SECRET"}, Username: "canbo",
				Password: Secret{Env: "SOHOA_TEST_PASSWORD"}}, srv.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, "https://dvc.example/up", nil)
			err = a.Authorize(context.Background(), req)
			if err == nil {
				t.Fatal("a refused grant authorized")
			}
			msg := err.Error()
			if !strings.Contains(msg, "[redacted]") {
				t.Fatalf("the echo did not reach the error: %s", msg)
			}
			for _, s := range []string{testClientSecret, testPassword} {
				for form, v := range secretForms(s) {
					if strings.Contains(msg, v) {
						t.Errorf("%s form of a secret, %q, in %s", form, v, msg)
					}
				}
			}
			for _, h := range auths {
				if _, cred, _ := strings.Cut(h, " "); strings.Contains(msg, cred) {
					t.Errorf("the Authorization header's credentials in %s", msg)
				}
			}
			for _, leak := range []string{"s3cr", "khẩu", "kh%E1", "kh\\u1ea9", "ient%2B"} {
				if strings.Contains(msg, leak) {
					t.Errorf("%q, part of a secret, in %s", leak, msg)
				}
			}
		})
	}
}
