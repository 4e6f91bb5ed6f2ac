package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/province/oidctest"
)

// Secrets of the test, each with characters that form and URL encodings
// change, so an encoded leak is looked for too.
const (
	basicPassword   = "basic p@ss+Đ1"
	wrongPassword   = "wrong p@ss+Đ2"
	bearerToken     = "bearer-tok/en+3"
	wrongToken      = "stale-tok/en+4"
	wrongKeycloakPW = "mật-khẩu sai+7"
	echoedPW        = `echo "p@ss"+Đ9\/`
)

// sumMetric adds the values of every sample of name whose labels contain
// all of labels, e.g. `kind="auth"`.
func sumMetric(text, name string, labels ...string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(series, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && match {
			sum += v
		}
	}
	return sum
}

// leaks returns the secrets (or their URL, form, base64, JSON or quoted
// encodings) that text shows.
func leaks(text string, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		j, _ := json.Marshal(s)
		forms := []string{s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s)),
			strings.Trim(string(j), `"`), strings.Trim(strconv.Quote(s), `"`), strings.Trim(strconv.QuoteToASCII(s), `"`)}
		for _, f := range forms {
			if strings.Contains(text, f) {
				found = append(found, fmt.Sprintf("%q (as %q)", s, f))
				break
			}
		}
	}
	return found
}

// TestNoSecretInLogsParkedOrMetrics runs the daemon against a province
// that takes basic auth, a bearer token or an OAuth2 token from a real
// OpenID Connect server (mockoidc), through successes and failures: wrong
// credentials (401 from the province or the token endpoint), a token
// endpoint that is down, an upload the province refuses (parked) with an
// answer that echoes the credentials, as verbose APIs do. No
// secret, nor the access token issued, appears in the daemon's log (at
// debug level), in `sohoa parked` (text and JSON), or on /metrics.
func TestNoSecretInLogsParkedOrMetrics(t *testing.T) {
	oidc := oidctest.New(t, time.Now)
	dir := t.TempDir()
	secretFile := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	clientFile := secretFile("client", oidc.M.ClientSecret) // the secret mockoidc gave its client
	// A token endpoint that is down: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/token"
	ln.Close()

	// A token endpoint whose refusal echoes the form: as sent, and as JSON
	// with every non-ASCII character as \uXXXX.
	echoing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		j, _ := json.Marshal(form)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%s %s", body, strconv.QuoteToASCII(string(j)))
	}))
	t.Cleanup(echoing.Close)

	var mu sync.Mutex
	var issued []string // access tokens the province saw
	province := func(refuse bool) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ok := false
			if u, p, basic := r.BasicAuth(); basic {
				ok = u == "sohoa" && p == basicPassword
			} else if tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); bearer {
				mu.Lock()
				issued = append(issued, tok)
				mu.Unlock()
				_, err := oidc.M.Keypair.VerifyJWT(tok, time.Now)
				ok = tok == bearerToken || err == nil
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="dvc"`)
				http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
				return
			}
			if _, ok := uploadedSHA(w, r); !ok {
				return
			}
			if refuse {
				// A verbose API: its refusal echoes the request's credentials.
				_, pass, _ := r.BasicAuth()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": "truong maHoSo khong hop le",
					"authorization": r.Header.Get("Authorization"), "password": pass,
					"php": strings.ReplaceAll(r.Header.Get("Authorization"), "/", `\/`)})
			}
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	good, refusing := province(false), province(true)

	tests := []struct {
		name    string
		auth    string
		refuse  bool
		outcome []string // the metric and labels that show the case happened
	}{
		{"basic", fmt.Sprintf("{type: basic, username: sohoa, password_file: %q}", secretFile("basic", basicPassword)),
			false, []string{"sohoa_uploads_total"}},
		{"basic, wrong password", fmt.Sprintf("{type: basic, username: sohoa, password_file: %q}", secretFile("basic-wrong", wrongPassword)),
			false, []string{"sohoa_upload_failures_total", `kind="auth"`}},
		{"bearer", fmt.Sprintf("{type: bearer, token_file: %q}", secretFile("token", bearerToken)),
			false, []string{"sohoa_uploads_total"}},
		{"bearer, rejected token", fmt.Sprintf("{type: bearer, token_file: %q}", secretFile("token-stale", wrongToken)),
			false, []string{"sohoa_upload_failures_total", `kind="auth"`}},
		{"bearer, refused, token echoed", fmt.Sprintf("{type: bearer, token_file: %q}", secretFile("token2", bearerToken)),
			true, []string{"sohoa_upload_parked"}},
		{"basic, refused, credentials echoed", fmt.Sprintf("{type: basic, username: sohoa, password_file: %q}", secretFile("basic2", basicPassword)),
			true, []string{"sohoa_upload_parked"}},
		{"oauth2 client credentials", fmt.Sprintf("{type: oauth2_client_credentials, token_url: %q, client_id: %q, client_secret_file: %q}",
			oidc.M.TokenEndpoint(), oidc.M.ClientID, clientFile), false, []string{"sohoa_uploads_total"}},
		{"oauth2 client credentials, refused, token echoed", fmt.Sprintf("{type: oauth2_client_credentials, token_url: %q, client_id: %q, client_secret_file: %q}",
			oidc.M.TokenEndpoint(), oidc.M.ClientID, clientFile), true, []string{"sohoa_upload_parked"}},
		{"oauth2 password", fmt.Sprintf("{type: oauth2_password, token_url: %q, client_id: %q, client_secret_file: %q, username: %s, password_file: %q}",
			oidc.M.TokenEndpoint(), oidc.M.ClientID, clientFile, oidctest.User, secretFile("kc", oidctest.Password)),
			false, []string{"sohoa_uploads_total"}},
		{"oauth2 password, wrong password", fmt.Sprintf("{type: oauth2_password, token_url: %q, client_id: %q, client_secret_file: %q, username: %s, password_file: %q}",
			oidc.M.TokenEndpoint(), oidc.M.ClientID, clientFile, oidctest.User, secretFile("kc-wrong", wrongKeycloakPW)),
			false, []string{"sohoa_upload_failures_total", `kind="auth"`}},
		{"oauth2 password, the token endpoint's refusal echoes the form", fmt.Sprintf("{type: oauth2_password, token_url: %q, client_id: %q, client_secret_file: %q, username: %s, password_file: %q}",
			echoing.URL, oidc.M.ClientID, clientFile, oidctest.User, secretFile("kc-echoed", echoedPW)),
			false, []string{"sohoa_upload_failures_total", `kind="auth"`}},
		{"oauth2, token endpoint down", fmt.Sprintf("{type: oauth2_client_credentials, token_url: %q, client_id: %q, client_secret_file: %q}",
			down, oidc.M.ClientID, clientFile), false, []string{"sohoa_upload_failures_total", `kind="network"`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := []string{basicPassword, wrongPassword, bearerToken, wrongToken, oidc.M.ClientSecret, oidctest.Password,
				wrongKeycloakPW, echoedPW, "sohoa:" + basicPassword, "sohoa:" + wrongPassword}
			srv := good
			if tt.refuse {
				srv = refusing
			}
			e := newEnv(t)
			e.writeConfig(fmt.Sprintf(`upload:
  sink: http
  retry: {min_backoff: 50ms, max_backoff: 200ms}
  http:
    url: "%s/api/dossiers/{dossier}/files"
    timeout: 5s
    auth: %s
`, srv.URL, tt.auth))
			e.start()
			variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, fmt.Sprintf("000.00.12.H57-200328-%04d.pdf", i+1)), 100+i)
			e.waitFor(strings.Join(tt.outcome, " "), 60*time.Second, func() bool {
				return sumMetric(e.metrics(), tt.outcome[0], tt.outcome[1:]...) >= 1
			})
			var shown strings.Builder
			shown.WriteString(e.metrics())
			for _, args := range [][]string{{"parked"}, {"parked", "--json"}} {
				out, err := exec.Command(binPath, append(args, "-config", e.config)...).CombinedOutput()
				if code := exitCode(err); code != 0 {
					t.Fatalf("sohoa %s: exit %d\n%s", strings.Join(args, " "), code, out)
				}
				if tt.refuse && !strings.Contains(string(out), "khong hop le") {
					t.Errorf("sohoa %s does not show the refused upload:\n%s", strings.Join(args, " "), out)
				}
				shown.Write(out)
			}
			e.stop()
			e.logMu.Lock()
			shown.Write(e.log.Bytes())
			e.logMu.Unlock()
			mu.Lock()
			secrets = append(secrets, issued...)
			mu.Unlock()
			if l := leaks(shown.String(), secrets); len(l) > 0 {
				t.Errorf("secrets shown in the log, sohoa parked or /metrics: %s", strings.Join(l, ", "))
			}
		})
	}
	if len(issued) < 3 { // bearer, and the two OAuth2 grants that succeed
		t.Errorf("the province saw %d bearer tokens; the OAuth2 cases did not run as meant", len(issued))
	}
}
