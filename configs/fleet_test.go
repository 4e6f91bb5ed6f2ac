package configs_test

import (
	"path/filepath"
	"slices"
	"strings"
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
	const path = "grafana/sohoa-province.json"
	d := readDashboardFile(t, path)
	types := checkDashboardShape(t, d)
	for _, want := range []string{"table", "timeseries", "stat"} {
		if !slices.Contains(types, want) {
			t.Errorf("no %s panel", want)
		}
	}
	exprs := strings.Join(dashboardExprs(d), "\n")
	for _, m := range []string{
		"sohoa_month_dossiers_digitized",              // every ward's rate
		"sohoa_build_info",                            // version, reporting or silent
		"sohoa_last_upload_success_timestamp_seconds", // last upload
		"sohoa_upload_queue_oldest_timestamp_seconds", // queue age
		"present_over_time(sohoa_build_info",          // whether it still reports
	} {
		if !strings.Contains(exprs, m) {
			t.Errorf("no panel shows %s", m)
		}
	}
	checkMetricNames(t, path, exprs)
	checkDashboardPromQL(t, d)
}
