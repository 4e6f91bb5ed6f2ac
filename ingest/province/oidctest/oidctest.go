// Package oidctest runs a real OpenID Connect token endpoint (mockoidc) for
// tests of clients that authenticate the way the provinces' Keycloaks make
// them: the client credentials and resource owner password grants.
package oidctest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// The one user the server knows.
const (
	User     = "canbo.huongvan"
	Password = "mật-khẩu 1"
)

// Server is a real in-process OpenID Connect server (mockoidc) taught the two
// grants the provinces' Keycloaks use with sohoa: client credentials and
// the resource owner password grant. mockoidc itself only has the
// authorization code and refresh grants, so a middleware turns each of the
// two into a session, as logging in would, and asks mockoidc for the
// session's tokens; it also writes expires_in in seconds, where mockoidc
// writes a time.Duration. The tokens are mockoidc's own signed JWTs, and
// refreshes are mockoidc's.
type Server struct {
	// M is the mockoidc server: its TokenEndpoint, ClientID and ClientSecret
	// configure a client.
	M      *mockoidc.MockOIDC
	users  map[string]string // username -> password
	mu     sync.Mutex
	grants map[string]int // grant_type -> token requests
}

// New starts a server whose clock is now, stopped at the end of the test.
// It knows one user, User with Password. Tests using it must not be parallel.
func New(t testing.TB, now func() time.Time) *Server {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.AccessTTL, m.RefreshTTL = 5*time.Minute, 30*time.Minute
	// mockoidc's clock is a package variable: set before its server starts,
	// restored after it stopped. Tests using it are not parallel.
	saved := mockoidc.NowFunc
	mockoidc.NowFunc = now
	o := &Server{M: m, users: map[string]string{User: Password}, grants: map[string]int{}}
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
		_ = m.Shutdown()
		mockoidc.NowFunc = saved
	})
	return o
}

// Count is how many token requests of a grant type the server had.
func (o *Server) Count(grant string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.grants[grant]
}

func (o *Server) grantsMiddleware(next http.Handler) http.Handler {
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
				_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid user credentials"}`))
				return
			}
			user = &mockoidc.MockUser{Subject: name, PreferredUsername: name}
		case "client_credentials":
			user = &mockoidc.MockUser{Subject: "service-account-sohoa"}
		}
		if user != nil {
			session, err := o.M.SessionStore.NewSession("openid", "", user, "", "")
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
		_, _ = w.Write(body) // the client is gone if this fails
	})
}

// Verifier returns a province's auth check: a token mockoidc signed, not
// expired by the test's clock, and not issued before revokedBefore.
func (o *Server) Verifier(now func() time.Time, revokedBefore *atomic.Int64, rejections *atomic.Int32) func(*http.Request) bool {
	return func(r *http.Request) bool {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := o.M.Keypair.VerifyJWT(raw, now)
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
