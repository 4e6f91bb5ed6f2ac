package upload

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/province/oidctest"
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

func TestOAuth2(t *testing.T) {
	for _, grant := range []string{province.AuthOAuth2ClientCredentials, province.AuthOAuth2Password} {
		t.Run(grant, func(t *testing.T) {
			clock := &testClock{now: time.Now().Truncate(time.Second)}
			o := oidctest.New(t, clock.Now)
			dir := t.TempDir()
			secretFile := filepath.Join(dir, "client_secret")
			os.WriteFile(secretFile, []byte(o.M.ClientSecret+"\n"), 0o600)
			passwordFile := filepath.Join(dir, "password")
			os.WriteFile(passwordFile, []byte("mật-khẩu 1\n"), 0o600)

			var revoked atomic.Int64
			var rejections atomic.Int32
			p := newProvince(t)
			p.auth = o.Verifier(clock.Now, &revoked, &rejections)
			cfg := province.AuthConfig{Type: grant, TokenURL: o.M.TokenEndpoint(), ClientID: o.M.ClientID,
				ClientSecret: province.Secret{File: secretFile}, Scopes: []string{"openid"}}
			first := "client_credentials"
			if grant == province.AuthOAuth2Password {
				cfg.Username, cfg.Password = "canbo.huongvan", province.Secret{File: passwordFile}
				first = "password"
			}
			auth, err := province.NewAuth(cfg, &http.Client{Timeout: 10 * time.Second}, clock.Now)
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
			if grant == province.AuthOAuth2ClientCredentials {
				renewals = map[string]int{first: 2, "refresh_token": 0}
			}
			expect("renewed before expiry", renewals, 0)

			// The province revokes the token: one 401, one renewal, and the
			// same upload goes through.
			revoked.Store(clock.Now().Unix())
			clock.advance(2 * time.Second)
			put("upload after revocation")
			if grant == province.AuthOAuth2ClientCredentials {
				renewals[first]++
			} else {
				renewals["refresh_token"]++
			}
			expect("renewed after a 401", renewals, 1)

			// A day later even the refresh token has expired: a new grant.
			clock.advance(24 * time.Hour)
			put("upload a day later")
			renewals[first]++
			if grant == province.AuthOAuth2Password {
				renewals["refresh_token"]++ // tried, refused, then the password grant
			}
			expect("a new grant after the refresh token expired", renewals, 1)
			p.storedOnce(t, h.scans, false)
		})
	}
}

func TestOAuth2Failures(t *testing.T) {
	clock := &testClock{now: time.Now()}
	o := oidctest.New(t, clock.Now)
	dir := t.TempDir()
	wrong := filepath.Join(dir, "password")
	os.WriteFile(wrong, []byte("not-the-password"), 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(o.M.ClientSecret), 0o600)
	p := newProvince(t)
	path, sha := writeScan(t, dir, "%PDF-1.4 x")
	it := Item{Dossier: "D", Name: "a.pdf", SHA256: sha, Size: 10, Path: path}

	// A wrong password is an auth failure, retried later, never parked; its
	// text does not show the password.
	auth, err := province.NewAuth(province.AuthConfig{Type: province.AuthOAuth2Password, TokenURL: o.M.TokenEndpoint(), ClientID: o.M.ClientID,
		ClientSecret: province.Secret{File: secret}, Username: "canbo.huongvan", Password: province.Secret{File: wrong}}, nil, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	err = p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth }).Put(context.Background(), it)
	e, ok := err.(*Error)
	if !ok || e.Kind != KindAuth || e.Permanent || strings.Contains(err.Error(), "not-the-password") ||
		strings.Contains(err.Error(), o.M.ClientSecret) {
		t.Errorf("wrong password: %#v", err)
	}
	// The token endpoint unreachable is a network failure.
	closed := newStatusServer(t, nil)
	auth, _ = province.NewAuth(province.AuthConfig{Type: province.AuthOAuth2ClientCredentials, TokenURL: closed + "/token", ClientID: "x",
		ClientSecret: province.Secret{File: secret}}, nil, clock.Now)
	if err := p.sink(t, 10*time.Second, func(c *HTTPConfig) { c.Auth = auth }).Put(context.Background(), it); kindOf(err) != KindNetwork {
		t.Errorf("token endpoint down: %v", err)
	}
	if p.count(sha) != 0 {
		t.Error("uploaded without a token")
	}
}
