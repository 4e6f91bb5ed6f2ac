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

// TestProvinceDashboard checks the province's dashboard: the shape every
// dashboard has, the panels the fleet needs found by the metrics they show,
// and every query parsed by promtool.
func TestProvinceDashboard(t *testing.T) {
	d := checkDashboard(t, "grafana/sohoa-province.json",
		"sohoa_month_dossiers_digitized",              // every ward's rate
		"sohoa_build_info",                            // version, reporting or silent
		"present_over_time(sohoa_build_info",          // whether it still reports
		"sohoa_last_upload_success_timestamp_seconds", // last upload
		"sohoa_upload_queue_oldest_timestamp_seconds") // queue age
	checkDashboardPromQL(t, d)
}
