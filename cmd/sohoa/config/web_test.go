package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// shadow is /etc/shadow-like text, which web_config might name by mistake.
const shadow = "root:$6$Zx9secretHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n" +
	"sys:*:19000:0:99999:7:::\nsync:*:19000:0:99999:7:::\n"

func TestWebConfig(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, file, want string // want: "" when valid, else part of the error
	}{
		{"basic auth only", write("auth.yml", fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash)), ""},
		{"missing file", filepath.Join(dir, "missing.yml"), "line 2: web_config: stat "},
		{"a folder", dir, "is not a regular file"},
		{"unknown key", write("typo.yml", "tls_server_confg:\n  cert_file: a.crt\n"), "line 2: web_config: "},
		{"certificate not there", write("tls.yml", "tls_server_config:\n  cert_file: none.crt\n  key_file: none.key\n"), "line 2: web_config: "},
		{"password instead of hash", write("plain.yml", "basic_auth_users:\n  prometheus: secret\n"), "line 2: web_config: "},
		{"not a web config", write("shadow", shadow), "line 2: web_config: " + filepath.Join(dir, "shadow") + ": line 1: unknown key"},
		{"not YAML", write("passwd", "root:x:0:0:root:/root:/bin/bash\n  nope: [\n"), "passwd: line 2: not YAML: mapping values"},
		{"a key's value", write("env", "password: hunter2\n"), "env: line 1: unknown key"},
		{"a value of the wrong type", write("type.yml", "basic_auth_users: \"hunter2\"\n"), "type.yml: line 1: a value of the wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(fmt.Appendf(nil, "inbox: /srv/scans\nweb_config: %q\n", tt.file))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.want == "" && c.WebConfig != tt.file:
				t.Fatalf("web_config = %q", c.WebConfig)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			// The file's text never shows: any file may be named.
			for _, secret := range []string{"Zx9secret", "root:", "daemon", "hunter2", "bin/bash"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the file's text %q: %v", secret, err)
				}
			}
		})
	}
	if c, err := Parse(nil); err != nil || c.WebConfig != "" {
		t.Errorf("default web_config %q, %v; want none", c.WebConfig, err)
	}
}
