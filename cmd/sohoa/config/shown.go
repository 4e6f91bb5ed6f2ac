package config

import (
	"maps"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// hidden stands for a secret in Shown.
const hidden = "(hidden)"

// secretQuery are URL query parameters that carry a credential.
var secretQuery = []string{"key", "apikey", "api_key", "token", "access_token", "secret", "password", "sig", "signature"}

// Shown is the whole configuration as YAML, as `sohoa check -config`
// prints it: every key after the defaults and the files, with what may be a
// secret hidden: header values (API keys, tokens) and URL query parameters
// named like credentials. Credentials kept in files or
// the environment (auth, sign) show as the file or the variable's name.
func (c Config) Shown() ([]byte, error) {
	c.Upload.HTTP.Headers = hideValues(c.Upload.HTTP.Headers)
	c.Upload.HTTP.URL = hideURL(c.Upload.HTTP.URL)
	c.Upload.HTTP.Auth.TokenURL = hideURL(c.Upload.HTTP.Auth.TokenURL)
	if a := c.Upload.HTTP.Attach; a != nil {
		shown := *a
		shown.Headers = hideValues(a.Headers)
		shown.URL = hideURL(a.URL)
		c.Upload.HTTP.Attach = &shown
	}
	c.Registry.Pull.Headers = hideValues(c.Registry.Pull.Headers)
	c.Registry.Pull.URL = hideURL(c.Registry.Pull.URL)
	c.Registry.Pull.Auth.TokenURL = hideURL(c.Registry.Pull.Auth.TokenURL)
	return yaml.Marshal(c)
}

// hideValues is m with every value hidden (a copy: c's maps are shared).
func hideValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k := range out {
		out[k] = hidden
	}
	return out
}

// hideURL hides a URL's credential-like query values (validate refuses
// user:password@ in URLs). A URL that does not parse is shown as written.
func hideURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return s
	}
	q, changed := u.Query(), false
	for k := range q {
		for _, name := range secretQuery {
			if strings.EqualFold(k, name) {
				q.Set(k, hidden)
				changed = true
			}
		}
	}
	u.RawQuery = q.Encode()
	if !changed {
		return s // keep the template's braces as written
	}
	return u.String()
}
