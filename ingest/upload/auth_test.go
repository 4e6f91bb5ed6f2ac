package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// testClock is a clock the test moves; safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// oidc is a real in-process OpenID Connect server (mockoidc) taught the two
// grants the provinces' Keycloaks use with sohoa: client credentials and
// the resource owner password grant. mockoidc itself only has the
// authorization code and refresh grants, so a middleware turns each of the
// two into a session, as logging in would, and asks mockoidc for the
// session's tokens; it also writes expires_in in seconds, where mockoidc
// writes a time.Duration. The tokens are mockoidc's own signed JWTs, and
// refreshes are mockoidc's.
type oidc struct {
	m      *mockoidc.MockOIDC
	users  map[string]string // username -> password
	mu     sync.Mutex
	grants map[string]int // grant_type -> token requests
}

func newOIDC(t *testing.T, clock *testClock) *oidc {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.AccessTTL, m.RefreshTTL = 5*time.Minute, 30*time.Minute
	// mockoidc's clock is a package variable: set before its server starts,
	// restored after it stopped. Tests using it are not parallel.
	saved := mockoidc.NowFunc
	mockoidc.NowFunc = clock.Now
	o := &oidc{m: m, users: map[string]string{"canbo.huongvan": "mật-khẩu 1"}, grants: map[string]int{}}
	if err := m.AddMiddleware(o.grantsMiddleware); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Shutdown()
		mockoidc.NowFunc = saved
	})
	return o
}

func (o *oidc) count(grant string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.grants[grant]
}

func (o *oidc) grantsMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != mockoidc.TokenEndpoint {
			next.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if id, secret, ok := r.BasicAuth(); ok { // client_secret_basic, as Keycloak takes it
			id, _ = url.QueryUnescape(id)
			secret, _ = url.QueryUnescape(secret)
			r.Form.Set("client_id", id)
			r.Form.Set("client_secret", secret)
		}
		grant := r.Form.Get("grant_type")
		o.mu.Lock()
		o.grants[grant]++
		o.mu.Unlock()
		var user mockoidc.User
		switch grant {
		case "password":
			name := r.Form.Get("username")
			if pw, ok := o.users[name]; !ok || pw != r.Form.Get("password") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid user credentials"}`))
				return
			}
			user = &mockoidc.MockUser{Subject: name, PreferredUsername: name}
		case "client_credentials":
			user = &mockoidc.MockUser{Subject: "service-account-sohoa"}
		}
		if user != nil {
			session, err := o.m.SessionStore.NewSession("openid", "", user, "", "")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			r.Form.Set("grant_type", "authorization_code")
			r.Form.Set("code", session.SessionID)
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			var tok map[string]any
			if err := json.Unmarshal(body, &tok); err == nil {
				if ns, ok := tok["expires_in"].(float64); ok {
					tok["expires_in"] = int64(ns / 1e9)
				}
				if grant == "client_credentials" {
					delete(tok, "refresh_token") // RFC 6749 4.4.3
				}
				body, _ = json.Marshal(tok)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// verifier returns a province auth check: a token mockoidc signed, not
// expired by the test's clock, and not issued before revokedBefore.
func (o *oidc) verifier(clock *testClock, revokedBefore *atomic.Int64, rejections *atomic.Int32) func(*http.Request) bool {
	return func(r *http.Request) bool {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := o.m.Keypair.VerifyJWT(raw, clock.Now)
		if ok && err == nil {
			claims, _ := tok.Claims.(jwt.MapClaims)
			iat, _ := claims.GetIssuedAt()
			if iat != nil && iat.Unix() > revokedBefore.Load() {
				return true
			}
		}
		rejections.Add(1)
		return false
	}
}

func TestOAuth2(t *testing.T) {
	for _, grant := range []string{AuthOAuth2ClientCredentials, AuthOAuth2Password} {
		t.Run(grant, func(t *testing.T) {
			clock := &testClock{now: time.Now().Truncate(time.Second)}
			o := newOIDC(t, clock)
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "client_secret")
			os.WriteFile(secretFile, []byte(o.m.ClientSecret+"\n"), 0o600)
			passwordFile := filepath.Join(dir, "password")
			os.WriteFile(passwordFile, []byte("mật-khẩu 1\n"), 0o600)

			var revoked atomic.Int64
			var rejections atomic.Int32
			p := newProvince(t)
			p.auth = o.verifier(clock, &revoked, &rejections)
			cfg := AuthConfig{Type: grant, TokenURL: o.m.TokenEndpoint(), ClientID: o.m.ClientID,
				ClientSecret: Secret{File: secretFile}, Scopes: []string{"openid"}}
			first := "client_credentials"
			if grant == AuthOAuth2Password {
				cfg.Username, cfg.Password = "canbo.huongvan", Secret{File: passwordFile}
				first = "password"
			}
			auth, err := NewAuth(cfg, &http.Client{Timeout: 10 * time.Second}, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			sink := p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth })
			h := newHarness(t, clock.Now)
			put := func(what string) {
				t.Helper()
				s := h.add("000.00.12.H57-260323-0001", 2000)
				err := sink.Put(context.Background(), Item{Dossier: s.dossier, Name: s.name, SHA256: s.sha, Size: s.size,
					Path: filepath.Join(h.spool, s.sha+".pdf")})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			expect := func(what string, grants map[string]int, rejected int32) {
				t.Helper()
				for g, n := range grants {
					if got := o.count(g); got != n {
						t.Errorf("%s: %d %s grants, want %d", what, got, g, n)
					}
				}
				if got := rejections.Load(); got != rejected {
					t.Errorf("%s: the province refused %d tokens, want %d", what, got, rejected)
				}
			}

			put("first upload")
			put("second upload")
			expect("one token for both", map[string]int{first: 1, "refresh_token": 0}, 0)

			// Four and a half minutes on, the five-minute token is renewed
			// before it expires: the province never sees an expired one.
			clock.advance(4*time.Minute + 30*time.Second)
			put("upload near expiry")
			renewals := map[string]int{first: 1, "refresh_token": 1}
			if grant == AuthOAuth2ClientCredentials {
				renewals = map[string]int{first: 2, "refresh_token": 0}
			}
			expect("renewed before expiry", renewals, 0)

			// The province revokes the token: one 401, one renewal, and the
			// same upload goes through.
			revoked.Store(clock.Now().Unix())
			clock.advance(2 * time.Second)
			put("upload after revocation")
			if grant == AuthOAuth2ClientCredentials {
				renewals[first]++
			} else {
				renewals["refresh_token"]++
			}
			expect("renewed after a 401", renewals, 1)

			// A day later even the refresh token has expired: a new grant.
			clock.advance(24 * time.Hour)
			put("upload a day later")
			renewals[first]++
			if grant == AuthOAuth2Password {
				renewals["refresh_token"]++ // tried, refused, then the password grant
			}
			expect("a new grant after the refresh token expired", renewals, 1)
			p.storedOnce(t, h.scans, false)
		})
	}
}

func TestOAuth2Failures(t *testing.T) {
	clock := &testClock{now: time.Now()}
	o := newOIDC(t, clock)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "password")
	os.WriteFile(wrong, []byte("not-the-password"), 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(o.m.ClientSecret), 0o600)
	p := newProvince(t)
	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}

	// A wrong password is an auth failure, retried later, never parked; its
	// text does not show the password.
	auth, err := NewAuth(AuthConfig{Type: AuthOAuth2Password, TokenURL: o.m.TokenEndpoint(), ClientID: o.m.ClientID,
		ClientSecret: Secret{File: secret}, Username: "canbo.huongvan", Password: Secret{File: wrong}}, nil, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	err = p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth }).Put(context.Background(), it)
	e, ok := err.(*Error)
	if !ok || e.Kind != KindAuth || e.Permanent || strings.Contains(err.Error(), "not-the-password") ||
		strings.Contains(err.Error(), o.m.ClientSecret) {
		t.Errorf("wrong password: %#v", err)
	}
	// The token endpoint unreachable is a network failure.
	closed := newStatusServer(t, nil)
	auth, _ = NewAuth(AuthConfig{Type: AuthOAuth2ClientCredentials, TokenURL: closed + "/token", ClientID: "x",
		ClientSecret: Secret{File: secret}}, nil, clock.Now)
	if err := p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth }).Put(context.Background(), it); kindOf(err) != KindNetwork {
		t.Errorf("token endpoint down: %v", err)
	}
	// A missing secret fails at start.
	if _, err := NewAuth(AuthConfig{Type: AuthOAuth2ClientCredentials, TokenURL: o.m.TokenEndpoint(), ClientID: "x",
		ClientSecret: Secret{File: filepath.Join(dir, "missing")}}, nil, nil); err == nil {
		t.Error("a missing client secret file was accepted")
	}
	if p.count(sha) != 0 {
		t.Error("uploaded without a token")
	}
}

func TestBearerAndBasic(t *testing.T) {
	dir := t.TempDir()
	var got atomic.Value
	srv := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
	}))
	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}
	put := func(a Authenticator) string {
		t.Helper()
		s, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: srv.URL + "/up"}, Auth: a})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		return got.Load().(string)
	}

	// A token file is re-read when it changes, without a 401.
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("first\n"), 0o600)
	bearer, err := NewAuth(AuthConfig{Type: AuthBearer, Token: Secret{File: tokenFile}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := put(bearer); h != "Bearer first" {
		t.Errorf("bearer: %q", h)
	}
	os.WriteFile(tokenFile+".new", []byte("second-longer\n"), 0o600)
	os.Rename(tokenFile+".new", tokenFile) // as systemd or a rotation script replaces it
	if h := put(bearer); h != "Bearer second-longer" {
		t.Errorf("bearer after rotation: %q", h)
	}

	t.Setenv("SOHOA_TEST_TOKEN", "from-env")
	envBearer, err := NewAuth(AuthConfig{Type: AuthBearer, Token: Secret{Env: "SOHOA_TEST_TOKEN"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := put(envBearer); h != "Bearer from-env" {
		t.Errorf("bearer from env: %q", h)
	}

	t.Setenv("SOHOA_TEST_PASSWORD", "p@ss:1")
	basic, err := NewAuth(AuthConfig{Type: AuthBasic, Username: "huongvan", Password: Secret{Env: "SOHOA_TEST_PASSWORD"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", put(basic))
	if u, pw, ok := r.BasicAuth(); !ok || u != "huongvan" || pw != "p@ss:1" {
		t.Errorf("basic: %q %q %v", u, pw, ok)
	}

	for _, c := range []AuthConfig{
		{Type: AuthBearer, Token: Secret{File: filepath.Join(dir, "missing")}},
		{Type: AuthBearer, Token: Secret{Env: "SOHOA_TEST_UNSET"}},
		{Type: AuthBasic, Username: "x"},
		{Type: "kerberos"},
	} {
		if _, err := NewAuth(c, nil, nil); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if e := (Secret{File: tokenFile}); bytes.Contains([]byte(e.where()), []byte("second")) {
		t.Error("where() shows the secret")
	}
}
