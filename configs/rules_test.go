package configs_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// knownMetrics are the series the rules and the dashboard may use: those
// sohoa exports (metrics/metrics.go and the README), those issue #4 adds
// (received and month cohorts), and Prometheus' own up.
var knownMetrics = []string{
	"sohoa_dossiers_received_total", "sohoa_dossiers_digitized_total",
	"sohoa_month_dossiers_received", "sohoa_month_dossiers_digitized", "sohoa_dossiers_foreign",
	"sohoa_scans_total", "sohoa_scans_rejected_total", "sohoa_scans_duplicate_total", "sohoa_scans_unlinked",
	"sohoa_scans_unlinked_oldest_timestamp_seconds", "sohoa_scans_abandoned",
	"sohoa_upload_queue_length", "sohoa_upload_queue_bytes", "sohoa_upload_queue_oldest_timestamp_seconds",
	"sohoa_uploads_total", "sohoa_upload_bytes_total", "sohoa_upload_failures_total",
	"sohoa_last_upload_success_timestamp_seconds", "sohoa_upload_duration_seconds_bucket",
	"sohoa_upload_parked", "sohoa_upload_parked_bytes", "sohoa_sign_failures_total",
	"sohoa_stats_errors_total", "sohoa_build_info", "sohoa_ward_info",
	"up",
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(testenv.NeedTool(t, "promtool", "prometheus"), args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesCheck(t *testing.T) {
	runPromtool(t, "check", "rules", filepath.Join("prometheus", "sohoa.rules.yml"))
}

// TestRulesUnit runs sohoa.rules.test.yml: every alert firing and not
// firing, office hours and working days in Vietnam time.
func TestRulesUnit(t *testing.T) {
	runPromtool(t, "test", "rules", filepath.Join("prometheus", "sohoa.rules.test.yml"))
}

// TestRulesAlertsTested checks that every alert of the rules file has a test.
func TestRulesAlertsTested(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("prometheus", "sohoa.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join("prometheus", "sohoa.rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllSubmatch(rules, -1)
	if len(alerts) < 6 {
		t.Fatalf("only %d alerts", len(alerts))
	}
	for _, a := range alerts {
		name := string(a[1])
		fired := regexp.MustCompile(`alertname: ` + name + `\n\s+exp_alerts:\n\s+- exp_labels`).Match(tests)
		quiet := regexp.MustCompile(`alertname: ` + name + `\n\s+exp_alerts: \[\]`).Match(tests)
		if !fired || !quiet {
			t.Errorf("alert %s: tested firing %v, not firing %v; want both", name, fired, quiet)
		}
	}
	checkMetricNames(t, "sohoa.rules.yml", string(rules))
}

// metricRE finds metric names in PromQL: sohoa_ names (not inside a
// recorded name such as ward:sohoa_dossiers_received:max), and up as a
// selector.
var metricRE = regexp.MustCompile(`(?:^|[^:\w])(sohoa_[a-z_]+|up\{)`)

// checkMetricNames fails on a sohoa_ metric that nobody exports (a typo,
// or a metric renamed in metrics.go).
func checkMetricNames(t *testing.T, where, text string) {
	t.Helper()
	for _, sub := range metricRE.FindAllStringSubmatch(text, -1) {
		m := strings.TrimSuffix(sub[1], "{")
		if !slices.Contains(knownMetrics, m) {
			t.Errorf("%s uses %s, which sohoa does not export", where, m)
		}
	}
}

// promtoolParse checks PromQL expressions by making them recording rules of
// a temporary rule file and running promtool check rules on it.
func promtoolParse(t *testing.T, exprs []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("groups:\n  - name: check\n    rules:\n")
	for i, e := range exprs {
		q, err := json.Marshal(e) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - record: check:expr_%d\n        expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "exprs.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
}
