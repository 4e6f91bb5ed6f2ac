package main

import (
	"os"
	"path/filepath"
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
