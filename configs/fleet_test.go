package configs_test

import (
	"path/filepath"
	"testing"
)

// TestFleetConfigs checks the province's pair for wards behind NAT: the
// counter's agent configuration in agent mode, the central one with the
// rules it loads.
func TestFleetConfigs(t *testing.T) {
	runPromtool(t, "check", "config", "--agent", filepath.Join("prometheus", "agent.yml"))
	runPromtool(t, "check", "config", filepath.Join("prometheus", "central.yml"))
}
