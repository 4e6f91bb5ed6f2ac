package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if c.Inbox != "var/inbox" || c.Upload.Dir.Path != "var/outbox" || c.Check.MinDPI != 200 || c.Check.MaxBytes != 30<<20 {
		t.Errorf("defaults changed: %+v", c)
	}
}

func TestContractKeys(t *testing.T) {
	c, err := Parse([]byte(`
ward:
  code: "000.00.12.H57"
  name: "Phường Hương Văn"
inbox: /srv/scans
data_dir: /var/lib/sohoa
listen: "127.0.0.1:9120"
upload:
  sink: dir
  dir:
    path: /mnt/provincial-drop
watch: {mode: poll, quiet: 2s, rescan: 30s}
check: {min_dpi: 300, max_bytes: 10MiB}
archive: {retention: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ward.Name != "Phường Hương Văn" || c.Inbox != "/srv/scans" || c.Upload.Dir.Path != "/mnt/provincial-drop" ||
		c.Watch.Mode != "poll" || time.Duration(c.Watch.Quiet) != 2*time.Second || c.Check.MaxBytes != 10<<20 ||
		c.Check.MinDPI != 300 || c.Archive.Retention != 0 {
		t.Errorf("decoded %+v", c)
	}
	// Keys not written keep their defaults.
	if c.Folders.Errors != "Lỗi" || c.Upload.Concurrency != 1 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"ward:\n  code: x\n  nmae: y\n", "line 3: unknown key nmae"},
		{"inbox: /a\nwatch:\n  mode: inotify\n", "line 3: watch.mode"},
		{"watch:\n  quiet: soon\n", `line 2: "soon" is not a duration`},
		{"check:\n  max_bytes: 30 parsecs\n", "line 2: "},
		{"check:\n  min_dpi: -1\n", "line 2: check.min_dpi"},
		{"upload:\n  sink: ftp\n", "line 2: upload.sink"},
		{"link:\n  pattern: '('\n", "line 2: link.pattern"},
		{"listen: nowhere\n", "line 1: listen"},
		{"folders:\n  errors: a/b\n", "line 2: folders.errors"},
		{"upload:\n  sink: http\n", "upload.http.url"},
		{"inbox: [unclosed\n", "line"},
		{"ward:\n  code: ''\n", "line 2: ward.code"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sohoa.yaml")
	if err := os.WriteFile(p, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 1: unknown key bogus") {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestShippedExampleParses(t *testing.T) {
	p := filepath.Join("..", "..", "..", "configs", "sohoa.yaml")
	if _, err := Load(p); err != nil {
		t.Fatalf("the shipped example config does not load: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"31457280": 31457280, "30MiB": 30 << 20, "30 MB": 30e6, "1.5GiB": 3 << 29, "0": 0} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "5 furlongs"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): no error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("ward: {code: x}\n"))
	f.Add([]byte("watch:\n  quiet: 5s\ncheck: {max_bytes: 30MiB}\n"))
	f.Add([]byte("upload: {sink: http, http: {url: 'https://x/{dossier}'}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		if c.validate() != nil {
			t.Fatalf("Parse accepted a config that does not validate: %+v", c)
		}
	})
}
