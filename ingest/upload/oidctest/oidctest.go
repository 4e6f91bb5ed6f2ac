// Package oidctest runs a real OpenID Connect server for tests: mockoidc,
// taught the two grants the provinces' Keycloaks use with sohoa.
package oidctest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// Server is mockoidc with the client credentials and resource owner password
// grants. mockoidc itself only has the authorization code and refresh
// grants, so a middleware turns each of the two into a session, as logging
// in would, and asks mockoidc for the session's tokens; it also writes
// expires_in in seconds, where mockoidc writes a time.Duration. The tokens
// are mockoidc's own signed JWTs, and refreshes are mockoidc's.
type Server struct {
	*mockoidc.MockOIDC
	users  map[string]string // username -> password
	mu     sync.Mutex
	grants map[string]int // grant_type -> token requests
}

// New starts a server on loopback, stopped when the test ends, whose clock
// is now and whose users are users (name -> password). mockoidc's clock is
// a package variable: tests using New must not be parallel.
func New(t testing.TB, now func() time.Time, users map[string]string) *Server {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	m.AccessTTL, m.RefreshTTL = 5*time.Minute, 30*time.Minute
	saved := mockoidc.NowFunc
	mockoidc.NowFunc = now
	s := &Server{MockOIDC: m, users: users, grants: map[string]int{}}
	if err := m.AddMiddleware(s.grantsMiddleware); err != nil {
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
	return s
}

// Count returns how many token requests of a grant type came in.
func (s *Server) Count(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants[grant]
}

func (s *Server) grantsMiddleware(next http.Handler) http.Handler {
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
		s.mu.Lock()
		s.grants[grant]++
		s.mu.Unlock()
		var user mockoidc.User
		switch grant {
		case "password":
			name := r.Form.Get("username")
			if pw, ok := s.users[name]; !ok || pw != r.Form.Get("password") {
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
			session, err := s.SessionStore.NewSession("openid", "", user, "", "")
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
