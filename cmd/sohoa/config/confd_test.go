package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sharedConfig writes a config folder: the ward's own sohoa.yaml and the
// province's shared files in conf.d; it returns the ward's file.
func sharedConfig(t *testing.T, ward string, shared map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ConfD), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range shared {
		if err := os.WriteFile(filepath.Join(dir, ConfD, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sohoa.yaml")
	ward = strings.ReplaceAll(ward, "$DIR", dir)
	if err := os.WriteFile(p, []byte(ward), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const wardFile = `ward:
  code: 000.00.12.H57
inbox: $DIR/inbox
data_dir: $DIR/data
upload:
  http:
    headers: {X-Ward: H57}
`

// The province's shared part in conf.d, merged in name order under the
// ward's own file, which wins.
func TestConfDMerges(t *testing.T) {
	p := sharedConfig(t, wardFile+"log_level: error\n", map[string]string{
		"10-upload.yaml": `upload:
  sink: http
  http:
    url: https://dvc.example.gov.vn/upload/{dossier}
    headers: {X-Api-Key: province-secret}
log_level: debug
`,
		"20-registry.yaml": `registry:
  pull:
    url: https://dvc.example.gov.vn/search?from={from}
    paths: {code: maHoSo, received: ngayTiepNhan}
log_level: warn
listen: 127.0.0.1:9200
`,
		"30-comments.yaml":         "# nothing yet\n",
		"10-upload.yaml.dpkg-dist": "bogus: [\n",
		".20-swap.yaml":            "bogus: 1\n",
	})
	files, err := Files(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"10-upload.yaml", "20-registry.yaml", "30-comments.yaml", "sohoa.yaml"}; !slices.Equal(names, want) {
		t.Errorf("Files = %q, want %q", names, want)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range []struct{ key, got, want string }{
		{"upload.sink", c.Upload.Sink, "http"},
		{"upload.http.url", c.Upload.HTTP.URL, "https://dvc.example.gov.vn/upload/{dossier}"},
		{"upload.http.headers.X-Api-Key", c.Upload.HTTP.Headers["X-Api-Key"], "province-secret"},
		{"upload.http.headers.X-Ward", c.Upload.HTTP.Headers["X-Ward"], "H57"},
		{"registry.pull.url", c.Registry.Pull.URL, "https://dvc.example.gov.vn/search?from={from}"},
		{"listen", c.Listen, "127.0.0.1:9200"},
		{"log_level", c.LogLevel, "error"}, // the ward's file over 10- and 20-
		{"ward.code", c.Ward.Code, "000.00.12.H57"},
	} {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.key, ch.got, ch.want)
		}
	}
}

// A mistake in a shared file names that file and its line, whether the
// decoder or the checks find it.
func TestConfDErrorsNameFileAndLine(t *testing.T) {
	for _, tt := range []struct {
		shared, ward, file, want string
	}{
		{"upload:\n  sink: http\n  htp:\n    url: x\n", wardFile, "10-p.yaml", "line 3: unknown key htp"},
		{"log_level: info\nwatch:\n  workers: 99\n", wardFile, "10-p.yaml", "line 3: watch.workers: 99 is not between 1 and 64"},
		{"upload:\n  sink: ftp\n", wardFile, "10-p.yaml", "line 2: upload.sink: \"ftp\" is not one of dir, http"},
		// set in both: the ward's file is the one that counts, and is named
		{"log_level: loud\n", wardFile + "log_level: louder\n", "sohoa.yaml", "line 8: log_level: \"louder\" is not one of"},
		// set nowhere: the ward's own file is where it goes
		{"upload:\n  sink: http\n", wardFile, "sohoa.yaml", "line 6: upload.http.url: must be set"},
	} {
		p := sharedConfig(t, tt.ward, map[string]string{"10-p.yaml": tt.shared})
		_, err := Load(p)
		want := filepath.Join(filepath.Dir(p), ConfD, tt.file) + ": " + tt.want
		if tt.file == "sohoa.yaml" {
			want = p + ": " + tt.want
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("shared %q: Load = %v, want %q", tt.shared, err, want)
		}
	}
}

// A conf.d that cannot be read is an error, not a counter silently without
// its province's settings.
func TestConfDUnreadable(t *testing.T) {
	p := sharedConfig(t, wardFile, nil)
	d := filepath.Join(filepath.Dir(p), ConfD)
	if err := os.Remove(d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d, []byte("log_level: warn\n"), 0o600); err != nil { // a file, not a folder
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), d) {
		t.Errorf("Load with conf.d a file: %v", err)
	}
	if err := os.Remove(d); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Errorf("Load without conf.d: %v", err)
	}
}

// Shown is the merged configuration with the secrets a file may hold
// hidden, and nothing else changed.
func TestShownHidesSecrets(t *testing.T) {
	p := sharedConfig(t, wardFile, map[string]string{"10-upload.yaml": `upload:
  sink: http
  http:
    url: https://dvc.example.gov.vn/upload/{dossier}?api_key=key-in-query&ward={ward}
    headers: {X-Api-Key: header-secret}
    auth: {type: bearer, token_file: /run/credentials/sohoa.service/token}
`})
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Shown()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, secret := range []string{"key-in-query", "header-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("Shown shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"X-Api-Key: (hidden)", "token_file: /run/credentials/sohoa.service/token", "code: 000.00.12.H57", "sink: http",
		"dvc.example.gov.vn/upload/", "ward="} {
		if !strings.Contains(out, want) {
			t.Errorf("Shown lacks %q:\n%s", want, out)
		}
	}
	if c.Upload.HTTP.Headers["X-Api-Key"] != "header-secret" {
		t.Error("Shown changed the configuration's own headers")
	}
	back, err := Parse(b) // what it shows reads back as a configuration
	if err != nil {
		t.Fatalf("Shown's YAML does not parse: %v\n%s", err, out)
	}
	if back.Ward.Code != c.Ward.Code || back.Upload.HTTP.Auth.TokenFile != c.Upload.HTTP.Auth.TokenFile {
		t.Errorf("read back %+v", back.Upload.HTTP)
	}
}
