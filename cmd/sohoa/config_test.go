package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The configuration a command uses without -config: $SOHOA_CONFIG, else the
// installed file if there is one, else the embedded defaults.
func TestChooseConfig(t *testing.T) {
	dir := t.TempDir()
	system := filepath.Join(dir, "sohoa.yaml")
	tests := []struct {
		flag, env string
		installed bool
		want      configChoice
	}{
		{"a.yaml", "b.yaml", true, configChoice{"a.yaml", "-config"}},
		{"", "b.yaml", true, configChoice{"b.yaml", "$SOHOA_CONFIG"}},
		{"", "", true, configChoice{system, "the installed configuration"}},
		{"", "", false, configChoice{"", "the embedded defaults"}},
	}
	for _, tt := range tests {
		os.Remove(system)
		if tt.installed {
			os.WriteFile(system, nil, 0o600)
		}
		if got := chooseConfig(tt.flag, tt.env, system); got != tt.want {
			t.Errorf("chooseConfig(%q, %q, installed %v) = %+v, want %+v", tt.flag, tt.env, tt.installed, got, tt.want)
		}
	}
}

// `sohoa check -config FILE` shows the files it merged (conf.d first) and
// the result, with the province's API key hidden.
func TestCheckShowsMergedConfig(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.Mkdir(filepath.Join(dir, "inbox"), 0o755)
	shared := filepath.Join(dir, "conf.d", "10-province.yaml")
	os.WriteFile(shared, []byte("upload:\n  sink: http\n  http:\n    url: https://dvc.example.gov.vn/up\n    headers: {X-Api-Key: s3cr3t-key}\n"), 0o600)
	cfg := filepath.Join(dir, "sohoa.yaml")
	os.WriteFile(cfg, []byte("ward: {code: 000.00.12.H57}\ninbox: "+dir+"/inbox\ndata_dir: "+dir+"/data\n"), 0o600)
	var stdout, stderr strings.Builder
	if code := cmdCheck(context.Background(), []string{"-config", cfg}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{cfg + ": configuration is valid", "a later file winning: " + shared + ", " + cfg,
		"url: https://dvc.example.gov.vn/up", "X-Api-Key: (hidden)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-key") {
		t.Errorf("output shows the API key:\n%s", out)
	}
}
