package upload

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sohoa/sohoa/ingest/upload/oidctest"
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

// tokenCheck returns a province auth check: a token mockoidc signed, not
// expired by the test's clock, and not issued before revokedBefore.
func tokenCheck(o *oidctest.Server, clock *testClock, revokedBefore *atomic.Int64, rejections *atomic.Int32) func(*http.Request) bool {
	return func(r *http.Request) bool {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := o.Keypair.VerifyJWT(raw, clock.Now)
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
			o := oidctest.New(t, clock.Now, map[string]string{"canbo.huongvan": "mật-khẩu 1"})
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "client_secret")
			os.WriteFile(secretFile, []byte(o.ClientSecret+"\n"), 0o600)
			passwordFile := filepath.Join(dir, "password")
			os.WriteFile(passwordFile, []byte("mật-khẩu 1\n"), 0o600)

			var revoked atomic.Int64
			var rejections atomic.Int32
			p := newProvince(t)
			p.auth = tokenCheck(o, clock, &revoked, &rejections)
			cfg := AuthConfig{Type: grant, TokenURL: o.TokenEndpoint(), ClientID: o.ClientID,
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
					if got := o.Count(g); got != n {
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
	o := oidctest.New(t, clock.Now, map[string]string{"canbo.huongvan": "mật-khẩu 1"})
	dir := t.TempDir()
	wrong := filepath.Join(dir, "password")
	os.WriteFile(wrong, []byte("not-the-password"), 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(o.ClientSecret), 0o600)
	p := newProvince(t)
	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}

	// A wrong password is an auth failure, retried later, never parked; its
	// text does not show the password.
	auth, err := NewAuth(AuthConfig{Type: AuthOAuth2Password, TokenURL: o.TokenEndpoint(), ClientID: o.ClientID,
		ClientSecret: Secret{File: secret}, Username: "canbo.huongvan", Password: Secret{File: wrong}}, nil, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	err = p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth }).Put(context.Background(), it)
	e, ok := err.(*Error)
	if !ok || e.Kind != KindAuth || e.Permanent || strings.Contains(err.Error(), "not-the-password") ||
		strings.Contains(err.Error(), o.ClientSecret) {
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
	if _, err := NewAuth(AuthConfig{Type: AuthOAuth2ClientCredentials, TokenURL: o.TokenEndpoint(), ClientID: "x",
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
