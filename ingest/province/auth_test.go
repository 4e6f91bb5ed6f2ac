package province

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func TestBearerAndBasic(t *testing.T) {
	dir := t.TempDir()
	put := func(a Authenticator) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "https://dvc.example/up", nil)
		if err := a.Authorize(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		return req.Header.Get("Authorization")
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
	// A missing secret fails at start.
	if _, err := NewAuth(AuthConfig{Type: AuthOAuth2ClientCredentials, TokenURL: "https://sso.example/token", ClientID: "x",
		ClientSecret: Secret{File: filepath.Join(dir, "missing")}}, nil, nil); err == nil {
		t.Error("a missing client secret file was accepted")
	}
	if e := (Secret{File: tokenFile}); bytes.Contains([]byte(e.where()), []byte("second")) {
		t.Error("where() shows the secret")
	}
}
