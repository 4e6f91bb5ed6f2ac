package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrometheusTLSVariant uncomments the scrape job for daemons behind
// web_config and checks the result with promtool: the commented example must
// be a valid job once an IT officer uncomments it.
func TestPrometheusTLSVariant(t *testing.T) {
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "  # - job_name: sohoa-tls") {
			in = true
		}
		if in && strings.HasPrefix(line, "  # ") {
			line = "  " + strings.TrimPrefix(line, "  # ")
		} else if in {
			in = false
		}
		out = append(out, line)
	}
	variant := strings.Join(out, "\n")
	for _, want := range []string{"\n  - job_name: sohoa-tls\n", "\n    scheme: https\n", "\n    basic_auth:\n", "password_file:"} {
		if !strings.Contains(variant, want) {
			t.Fatalf("uncommented prometheus.yml lacks %q:\n%s", want, variant)
		}
	}
	dir := t.TempDir()
	abs, err := filepath.Abs("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "prometheus")); err != nil { // the rule_files
		t.Fatal(err)
	}
	p := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(p, []byte(variant), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "config", "--syntax-only", p)
}
