package province

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Authenticator puts credentials on requests to the provincial system. Implementations
// are safe for concurrent use.
type Authenticator interface {
	// Authorize sets req's credentials (its Authorization header).
	Authorize(ctx context.Context, req *http.Request) error
	// Renew is called when the server answered 401 to req. It reports
	// whether other credentials are now available, worth one more try: a
	// refreshed token, a token file that changed.
	Renew(ctx context.Context, req *http.Request) (bool, error)
}

// Authentication types, as configured in auth.type.
const (
	AuthNone                    = "none"
	AuthBearer                  = "bearer"
	AuthBasic                   = "basic"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2Password          = "oauth2_password"
)

// AuthTypes lists the authentication types.
var AuthTypes = []string{AuthNone, AuthBearer, AuthBasic, AuthOAuth2ClientCredentials, AuthOAuth2Password}

// Secret is where a secret comes from: a file (such as one systemd's
// LoadCredential= provides; surrounding white space is ignored) or an
// environment variable. Secrets are never in the configuration itself.
type Secret struct {
	File string
	Env  string
}

func (s Secret) set() bool { return s.File != "" || s.Env != "" }

// read returns the secret; an error names where it was looked for, never
// its value.
func (s Secret) read() (string, error) {
	var v string
	switch {
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		v = string(bytes.TrimSpace(b))
	case s.Env != "":
		v = strings.TrimSpace(os.Getenv(s.Env))
	default:
		return "", errors.New("no secret file or environment variable configured")
	}
	if v == "" {
		return "", fmt.Errorf("secret %s is empty", s.where())
	}
	return v, nil
}

// Secrets returns the values of c's secrets that can be read here (a
// command run by another user than the daemon may read none), to blank
// them in text kept before it was redacted, such as old parked reasons.
func (c AuthConfig) Secrets() []string {
	var out []string
	for _, s := range []Secret{c.Token, c.Password, c.ClientSecret} {
		if !s.set() {
			continue
		}
		if v, err := s.read(); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func (s Secret) where() string {
	if s.File != "" {
		return "file " + s.File
	}
	return "environment variable " + s.Env
}

// AuthConfig configures an Authenticator.
type AuthConfig struct {
	Type string // one of AuthTypes; "" is AuthNone

	Token Secret // bearer: the token (a file is re-read when it changes)

	Username string // basic, oauth2_password
	Password Secret // basic, oauth2_password

	TokenURL     string   // oauth2: the token endpoint, e.g. Keycloak's .../protocol/openid-connect/token
	ClientID     string   // oauth2
	ClientSecret Secret   // oauth2 (optional for a public client with the password grant)
	Scopes       []string // oauth2; may be empty
}

// NewAuth returns the Authenticator of c. client is used for token
// requests (nil: a client with a one-minute timeout and the proxy from the
// environment); now is the clock tokens expire by (nil: time.Now). Secrets
// are read here, so a missing one fails at start.
func NewAuth(c AuthConfig, client *http.Client, now func() time.Time) (Authenticator, error) {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	switch c.Type {
	case "", AuthNone:
		return NoAuth{}, nil
	case AuthBearer:
		b := &bearerAuth{secret: c.Token}
		if _, err := b.token(true); err != nil {
			return nil, fmt.Errorf("bearer token: %w", err)
		}
		return b, nil
	case AuthBasic:
		b := &basicAuth{user: c.Username, secret: c.Password}
		if _, err := b.password(true); err != nil {
			return nil, fmt.Errorf("basic auth password: %w", err)
		}
		return b, nil
	case AuthOAuth2ClientCredentials, AuthOAuth2Password:
		return newOAuth(c, client, now)
	}
	return nil, fmt.Errorf("unknown auth type %q (one of %s)", c.Type, strings.Join(AuthTypes, ", "))
}

// NoAuth is the Authenticator that puts no credentials on requests.
type NoAuth struct{}

// Authorize implements Authenticator: it does nothing.
func (NoAuth) Authorize(context.Context, *http.Request) error { return nil }

// Renew implements Authenticator: there are never other credentials.
func (NoAuth) Renew(context.Context, *http.Request) (bool, error) { return false, nil }

// bearerAuth sends a token read from a file or the environment. The file is
// re-read when it changes (size, time or identity), so a token rotated by
// another program is picked up without a restart.
type bearerAuth struct {
	secret Secret
	mu     sync.Mutex
	tok    string
	info   os.FileInfo
}

func (b *bearerAuth) token(force bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.secret.File == "" {
		if b.tok == "" || force {
			t, err := b.secret.read()
			if err != nil {
				return "", err
			}
			b.tok = t
		}
		return b.tok, nil
	}
	fi, err := os.Stat(b.secret.File)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if force || b.info == nil || !os.SameFile(fi, b.info) || fi.Size() != b.info.Size() || !fi.ModTime().Equal(b.info.ModTime()) {
		t, err := b.secret.read()
		if err != nil {
			return "", err
		}
		b.tok, b.info = t, fi
	}
	return b.tok, nil
}

func (b *bearerAuth) Authorize(_ context.Context, req *http.Request) error {
	t, err := b.token(false)
	if err != nil {
		return &Error{Kind: KindAuth, Err: fmt.Errorf("bearer token: %w", err)}
	}
	req.Header.Set("Authorization", "Bearer "+t)
	return nil
}

func (b *bearerAuth) Renew(_ context.Context, req *http.Request) (bool, error) {
	t, err := b.token(true)
	if err != nil {
		return false, &Error{Kind: KindAuth, Err: fmt.Errorf("bearer token: %w", err)}
	}
	return req.Header.Get("Authorization") != "Bearer "+t, nil
}

// basicAuth sends HTTP basic credentials; the password is read at start and
// again after a 401.
type basicAuth struct {
	user   string
	secret Secret
	mu     sync.Mutex
	pass   string
}

func (b *basicAuth) password(force bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pass == "" || force {
		p, err := b.secret.read()
		if err != nil {
			return "", err
		}
		b.pass = p
	}
	return b.pass, nil
}

func (b *basicAuth) Authorize(_ context.Context, req *http.Request) error {
	p, err := b.password(false)
	if err != nil {
		return &Error{Kind: KindAuth, Err: fmt.Errorf("basic auth password: %w", err)}
	}
	req.SetBasicAuth(b.user, p)
	return nil
}

func (b *basicAuth) Renew(_ context.Context, req *http.Request) (bool, error) {
	_, old, _ := req.BasicAuth()
	p, err := b.password(true)
	if err != nil {
		return false, &Error{Kind: KindAuth, Err: fmt.Errorf("basic auth password: %w", err)}
	}
	return p != old, nil
}

// oauthAuth keeps one access token from an OAuth2 token endpoint (Keycloak's,
// say) and renews it before it expires: with the refresh token when there is
// one, else (or when the refresh is refused) with a new grant. Expiry is
// judged by the injected clock from the token's expires_in.
type oauthAuth struct {
	client *http.Client
	now    func() time.Time
	grant  func(ctx context.Context) (*oauth2.Token, error)
	conf   *oauth2.Config // for refreshing

	mu       sync.Mutex // held across a token request: one at a time
	tok      *oauth2.Token
	renewAt  time.Time // zero: the token does not expire
	password string    // as last read for a grant, for redaction
}

func newOAuth(c AuthConfig, client *http.Client, now func() time.Time) (*oauthAuth, error) {
	var secret string
	if c.ClientSecret.set() {
		s, err := c.ClientSecret.read()
		if err != nil {
			return nil, fmt.Errorf("oauth2 client secret: %w", err)
		}
		secret = s
	}
	a := &oauthAuth{client: client, now: now}
	a.conf = &oauth2.Config{ClientID: c.ClientID, ClientSecret: secret, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL}}
	switch c.Type {
	case AuthOAuth2ClientCredentials:
		cc := &clientcredentials.Config{ClientID: c.ClientID, ClientSecret: secret, TokenURL: c.TokenURL, Scopes: c.Scopes}
		a.grant = cc.Token
	default:
		if _, err := c.Password.read(); err != nil {
			return nil, fmt.Errorf("oauth2 password: %w", err)
		}
		a.grant = func(ctx context.Context) (*oauth2.Token, error) {
			p, err := c.Password.read() // re-read: it may have been rotated
			if err != nil {
				return nil, &Error{Kind: KindAuth, Err: fmt.Errorf("oauth2 password: %w", err)}
			}
			a.password = p // a.mu is held (fetch)
			return a.conf.PasswordCredentialsToken(ctx, c.Username, p)
		}
	}
	return a, nil
}

func (a *oauthAuth) Authorize(ctx context.Context, req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok == nil || a.tok.AccessToken == "" || !a.renewAt.IsZero() && !a.now().Before(a.renewAt) {
		if err := a.fetch(ctx); err != nil {
			return err
		}
	}
	req.Header.Set("Authorization", "Bearer "+a.tok.AccessToken)
	return nil
}

func (a *oauthAuth) Renew(ctx context.Context, req *http.Request) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != nil && req.Header.Get("Authorization") != "Bearer "+a.tok.AccessToken {
		return true, nil // another upload renewed it meanwhile
	}
	if a.tok != nil {
		a.tok.AccessToken = "" // refused: keep only the refresh token
	}
	if err := a.fetch(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// fetch gets a new access token, by refresh when possible; a.mu is held.
func (a *oauthAuth) fetch(ctx context.Context) error {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.client)
	start := a.now()
	var tok *oauth2.Token
	var err error
	if a.tok != nil && a.tok.RefreshToken != "" {
		// A token without an access token and in the past is refreshed at
		// once by the oauth2 package's refresher.
		old := &oauth2.Token{RefreshToken: a.tok.RefreshToken, Expiry: time.Unix(1, 0)}
		tok, err = a.conf.TokenSource(ctx, old).Token()
		if err != nil {
			tok = nil // the refresh token expired or was revoked: grant anew
		}
	}
	if tok == nil {
		tok, err = a.grant(ctx)
	}
	if err != nil {
		return tokenError(err, a.secrets()...)
	}
	if tok.AccessToken == "" {
		return &Error{Kind: KindAuth, Err: errors.New("oauth2: the token endpoint returned no access token")}
	}
	a.tok, a.renewAt = tok, time.Time{}
	if ttl := lifetime(tok); ttl > 0 {
		// Renew a fifth of the lifetime early (at most a minute), so that a
		// token does not expire while a slow upload is under way.
		a.renewAt = start.Add(ttl - min(ttl/5, time.Minute))
	}
	return nil
}

// lifetime is the token's expires_in, 0 when it has none. (The oauth2
// package fills Token.ExpiresIn for some grants only; the raw answer has it
// for all.)
func lifetime(tok *oauth2.Token) time.Duration {
	secs := float64(tok.ExpiresIn)
	if secs <= 0 {
		switch v := tok.Extra("expires_in").(type) {
		case float64:
			secs = v
		case string:
			secs, _ = strconv.ParseFloat(v, 64)
		}
	}
	return time.Duration(secs * float64(time.Second))
}

// secrets are what a token request may carry and its answer echo: the
// client secret, the password, the tokens; a.mu is held.
func (a *oauthAuth) secrets() []string {
	s := []string{a.conf.ClientSecret, a.password}
	if a.tok != nil {
		s = append(s, a.tok.AccessToken, a.tok.RefreshToken)
	}
	return s
}

// tokenError classifies a failed token request: the token endpoint being
// unreachable is a network failure like any other; a refusal is auth. The
// refusal's text has the request's secrets (and its Authorization header,
// the client's credentials) blanked: an endpoint may echo the form.
func tokenError(err error, secrets ...string) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var req *http.Request
		if re.Response != nil {
			status, req = re.Response.StatusCode, re.Response.Request
		}
		msg := re.ErrorCode
		if msg == "" {
			msg = string(re.Body)
		}
		msg = Snippet(WithoutCredentials([]byte(msg), req, secrets...))
		return &Error{Kind: KindAuth, Status: status, Err: fmt.Errorf("token request refused: HTTP %d: %s", status, msg)}
	}
	if k := TransportKind(err); k != "" {
		return &Error{Kind: k, Err: fmt.Errorf("token request: %w", err)}
	}
	return &Error{Kind: KindAuth, Err: fmt.Errorf("token request: %w", err)}
}
