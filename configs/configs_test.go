// Tests for the shipped sample configuration files: sohoa.yaml must load with the daemon's own
// strict parser and keep the contract values; prometheus.yml must pass promtool.
package configs_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/testenv"
)

func TestSampleConfigLoads(t *testing.T) {
	c, err := load("sohoa.yaml")
	if err != nil {
		t.Fatalf("the daemon rejects the sample config: %v", err)
	}
	checks := []struct {
		key       string
		got, want any
	}{
		{"ward.code", c.Ward.Code, "000.00.12.H57"},
		{"ward.name", c.Ward.Name, "Phường Hương Văn"},
		{"inbox", c.Inbox, "/srv/scans"},
		{"data_dir", c.DataDir, "/var/lib/sohoa"},
		{"listen", c.Listen, "127.0.0.1:9120"},
		{"log_level", c.LogLevel, "info"},
		{"watch.mode", c.Watch.Mode, "events"},
		{"watch.quiet", time.Duration(c.Watch.Quiet), 5 * time.Second},
		{"watch.rescan", time.Duration(c.Watch.Rescan), 60 * time.Second},
		{"folders.errors", c.Folders.Errors, "Lỗi"},
		{"folders.waiting", c.Folders.Waiting, "Chờ mã hồ sơ"},
		{"check.min_dpi", c.Check.MinDPI, 200.0},
		{"check.max_bytes", int64(c.Check.MaxBytes), int64(30 << 20)},
		{"check.isolate", c.Check.Isolate, true},
		{"check.parser_memory", int64(c.Check.ParserMemory), int64(1 << 30)},
		{"check.parser_cpu", time.Duration(c.Check.ParserCPU), time.Minute},
		{"check.timeout", time.Duration(c.Check.Timeout), 2 * time.Minute},
		{"link.pattern", c.Link.Pattern, `^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}$`},
		{"link.accept_foreign", c.Link.AcceptForeign, false},
		{"upload.sink", c.Upload.Sink, "dir"},
		{"upload.dir.path", c.Upload.Dir.Path, "/mnt/provincial-drop"},
		{"upload.retry.min_backoff", time.Duration(c.Upload.Retry.MinBackoff), time.Second},
		{"upload.retry.max_backoff", time.Duration(c.Upload.Retry.MaxBackoff), 5 * time.Minute},
		{"archive.retention", time.Duration(c.Archive.Retention), 2160 * time.Hour},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.key, ch.got, ch.want)
		}
	}
}

func TestPrometheusConfig(t *testing.T) {
	promtool := testenv.NeedTool(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "config", "--syntax-only", "prometheus.yml").CombinedOutput()
	if err != nil && strings.Contains(string(out), "syntax-only") {
		// older promtool without --syntax-only
		out, err = exec.Command(promtool, "check", "config", "prometheus.yml").CombinedOutput()
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	if err != nil {
		t.Errorf("promtool check config prometheus.yml: %v", err)
	}
}

// The HTTP profiles load with the daemon's parser and describe what the README says.
func TestHTTPProfilesLoad(t *testing.T) {
	single, err := load("http-single.yaml")
	if err != nil {
		t.Fatalf("http-single.yaml: %v", err)
	}
	if u := single.Upload; u.Sink != "http" || u.HTTP.Attach != nil || u.HTTP.Auth.Type != "bearer" ||
		u.HTTP.Auth.TokenFile != "${CREDENTIALS_DIRECTORY}/lgsp-token" || u.HTTP.Accept[0] != 409 {
		t.Errorf("http-single.yaml: %+v", u)
	}
	igate, err := load("http-igate.yaml")
	if err != nil {
		t.Fatalf("http-igate.yaml: %v", err)
	}
	if h := igate.Upload.HTTP; h.Attach == nil || h.Attach.Values["file_id"] != "[0].id" || h.Auth.Type != "oauth2_password" ||
		h.FileField != "files" || h.Auth.PasswordFile == "" {
		t.Errorf("http-igate.yaml: %+v", h)
	}
	reg, err := load("registry-igate.yaml")
	if err != nil {
		t.Fatalf("registry-igate.yaml: %v", err)
	}
	if p := reg.Registry.Pull; p.Paging != "total_pages" || p.Paths.Procedure != "procedure.name" || p.Auth.Type != "oauth2_password" ||
		p.LookbackDays != 45 || p.Auth.PasswordFile == "" {
		t.Errorf("registry-igate.yaml: %+v", p)
	}
	for _, f := range []string{"http-single.yaml", "http-igate.yaml", "registry-igate.yaml"} {
		b, _ := os.ReadFile(f)
		if regexp.MustCompile(`(?m)^\s*(password|client_secret|token|secret)\s*:`).Match(b) {
			t.Errorf("%s holds a secret", f)
		}
	}
}

// load parses a shipped file as config.Load does, less the check that its
// inbox (/srv/scans, a counter PC's) exists on this machine.
func load(name string) (config.Config, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return config.Config{}, err
	}
	return config.Parse(b)
}
