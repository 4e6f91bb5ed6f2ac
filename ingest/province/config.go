package province

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// HTTPConfig is how a component reaches the provincial system: the TLS
// files and the authentication. A component's configuration embeds it
// inline, so its keys sit beside the component's own (upload.http.tls,
// registry.pull.auth), and New turns it into a client.
type HTTPConfig struct {
	TLS  TLS  `yaml:"tls"`
	Auth Auth `yaml:"auth"`
}

// TLS adds trust and a client certificate; verification is always on.
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth says how requests authenticate. Secrets come only from files (such as
// systemd's LoadCredential=; ${CREDENTIALS_DIRECTORY} is expanded) or from
// environment variables, never from the configuration file.
type Auth struct {
	Type             string   `yaml:"type"`       // none | bearer | basic | oauth2_client_credentials | oauth2_password
	TokenFile        string   `yaml:"token_file"` // bearer; re-read when it changes
	TokenEnv         string   `yaml:"token_env"`
	Username         string   `yaml:"username"` // basic, oauth2_password
	PasswordFile     string   `yaml:"password_file"`
	PasswordEnv      string   `yaml:"password_env"`
	TokenURL         string   `yaml:"token_url"` // oauth2
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	Scopes           []string `yaml:"scopes"`
}

// New returns the client and the Authenticator c describes. The timeouts
// are the transport's (0: NewClient's defaults); token requests share the
// transport (proxy, CA, client certificate) with a deadline of their own.
// Secrets are read here, so a missing one fails at start: such a failure
// is a *KeyError whose Key is "auth".
func New(c HTTPConfig, connectTimeout, responseHeaderTimeout time.Duration) (*http.Client, Authenticator, error) {
	client, err := NewClient(c.Transport(connectTimeout, responseHeaderTimeout))
	if err != nil {
		return nil, nil, err
	}
	tokens := &http.Client{Transport: client.Transport, Timeout: time.Minute}
	auth, err := NewAuth(c.Auth.AuthConfig(), tokens, nil)
	if err != nil {
		return nil, nil, &KeyError{Key: "auth", Err: err}
	}
	return client, auth, nil
}

// Transport returns the transport settings of c with the given timeouts.
func (c HTTPConfig) Transport(connectTimeout, responseHeaderTimeout time.Duration) TransportConfig {
	return TransportConfig{CAFile: expand(c.TLS.CAFile), CertFile: expand(c.TLS.CertFile), KeyFile: expand(c.TLS.KeyFile),
		ConnectTimeout: connectTimeout, ResponseHeaderTimeout: responseHeaderTimeout}
}

// AuthConfig returns the authentication settings, with
// ${CREDENTIALS_DIRECTORY} and other variables in file names expanded.
func (a *Auth) AuthConfig() AuthConfig {
	return AuthConfig{Type: a.Type, Token: Secret{File: expand(a.TokenFile), Env: a.TokenEnv},
		Username: a.Username, Password: Secret{File: expand(a.PasswordFile), Env: a.PasswordEnv},
		TokenURL: a.TokenURL, ClientID: a.ClientID,
		ClientSecret: Secret{File: expand(a.ClientSecretFile), Env: a.ClientSecretEnv}, Scopes: a.Scopes}
}

func expand(path string) string {
	if path == "" {
		return ""
	}
	return os.ExpandEnv(path)
}

// Check reports the first mistake in c as a *KeyError whose Key is the
// configuration's key below the component's block ("tls.cert_file",
// "auth.token_env"); nil when there is none. It reads no file.
func (c HTTPConfig) Check() error {
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return &KeyError{Key: "tls.cert_file", Err: errors.New("cert_file and key_file go together")}
	}
	return c.Auth.check()
}

// check checks the auth block.
func (a *Auth) check() error {
	bad := func(key, format string, args ...any) error {
		return &KeyError{Key: "auth." + key, Err: fmt.Errorf(format, args...)}
	}
	typ := a.Type
	if typ == "" {
		typ = AuthNone
	}
	if !slices.Contains(AuthTypes, typ) {
		return bad("type", "%q is not one of %s", a.Type, strings.Join(AuthTypes, ", "))
	}
	// Which keys each type uses; any other key set is a mistake.
	uses := map[string][]string{
		AuthNone:                    nil,
		AuthBearer:                  {"token_file", "token_env"},
		AuthBasic:                   {"username", "password_file", "password_env"},
		AuthOAuth2ClientCredentials: {"token_url", "client_id", "client_secret_file", "client_secret_env", "scopes"},
		AuthOAuth2Password: {"token_url", "client_id", "client_secret_file", "client_secret_env", "scopes",
			"username", "password_file", "password_env"},
	}[typ]
	set := map[string]bool{"token_file": a.TokenFile != "", "token_env": a.TokenEnv != "", "username": a.Username != "",
		"password_file": a.PasswordFile != "", "password_env": a.PasswordEnv != "", "token_url": a.TokenURL != "",
		"client_id": a.ClientID != "", "client_secret_file": a.ClientSecretFile != "",
		"client_secret_env": a.ClientSecretEnv != "", "scopes": len(a.Scopes) > 0}
	for _, key := range slices.Sorted(maps.Keys(set)) {
		if set[key] && !slices.Contains(uses, key) {
			return bad(key, "is not used with auth type %s", typ)
		}
	}
	one := func(file, env string) error {
		switch {
		case set[file] && set[env]:
			return bad(env, "set %s or %s, not both", file, env)
		case !set[file] && !set[env]:
			return bad("type", "%s needs %s or %s", typ, file, env)
		}
		return nil
	}
	switch typ {
	case AuthBearer:
		return one("token_file", "token_env")
	case AuthBasic:
		if !set["username"] {
			return bad("type", "basic needs username")
		}
		return one("password_file", "password_env")
	case AuthOAuth2ClientCredentials, AuthOAuth2Password:
		u, err := url.Parse(a.TokenURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("token_url", "must be the token endpoint's http:// or https:// URL")
		}
		if !set["client_id"] {
			return bad("client_id", "must be set for %s", typ)
		}
		if set["client_secret_file"] && set["client_secret_env"] {
			return bad("client_secret_env", "set client_secret_file or client_secret_env, not both")
		}
		if typ == AuthOAuth2ClientCredentials {
			return one("client_secret_file", "client_secret_env")
		}
		if !set["username"] {
			return bad("username", "must be set for %s", typ)
		}
		return one("password_file", "password_env")
	}
	return nil
}
