package configs_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

const dashboardPath = "grafana/sohoa-dashboard.json"

// dsRef is a Grafana datasource reference.
type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashPanel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Datasource  *dsRef          `json:"datasource"`
	Targets     []dashTarget    `json:"targets"`
	Panels      []dashPanel     `json:"panels"` // in a collapsed row
	FieldConfig json.RawMessage `json:"fieldConfig"`
}

type dashTarget struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	Timezone      string      `json:"timezone"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Type       string          `json:"type"`
			Name       string          `json:"name"`
			Query      json.RawMessage `json:"query"`
			Datasource *dsRef          `json:"datasource"`
			AllValue   string          `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard { return readDashboardFile(t, dashboardPath) }

func readDashboardFile(t *testing.T, path string) dashboard {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// TestDashboard checks what Grafana 10 needs to import the dashboard on any
// Prometheus: the datasource is a variable, every panel and query uses it,
// the ward variable lists sohoa_ward_info's wards, and the panels the
// issue asks for are there.
func TestDashboard(t *testing.T) {
	// The panels the issue lists, found by the metrics they show.
	checkDashboard(t, dashboardPath,
		"sohoa_month_dossiers_received", "sohoa_month_dossiers_digitized", // town table, rate over time
		"sohoa_upload_queue_length", "sohoa_upload_queue_oldest_timestamp_seconds",
		"sohoa_scans_rejected_total", "sohoa_last_upload_success_timestamp_seconds")
}

// checkDashboard checks the dashboard at path: its shape, a table, a time
// series and a stat panel, a query using each of shows (a metric or a
// PromQL fragment), and only metrics sohoa exports. It returns the dashboard.
func checkDashboard(t *testing.T, path string, shows ...string) dashboard {
	t.Helper()
	d := readDashboardFile(t, path)
	types := checkDashboardShape(t, d)
	for _, want := range []string{"table", "timeseries", "stat"} {
		if !slices.Contains(types, want) {
			t.Errorf("%s: no %s panel", path, want)
		}
	}
	exprs := strings.Join(dashboardExprs(d), "\n")
	for _, m := range shows {
		if !strings.Contains(exprs, m) {
			t.Errorf("%s: no panel shows %s", path, m)
		}
	}
	checkMetricNames(t, path, exprs)
	return d
}

// checkDashboardShape checks what any of our dashboards needs and returns
// its panels' types.
func checkDashboardShape(t *testing.T, d dashboard) (types []string) {
	t.Helper()
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 || d.Timezone != "Asia/Ho_Chi_Minh" {
		t.Errorf("uid %q title %q schemaVersion %d timezone %q", d.UID, d.Title, d.SchemaVersion, d.Timezone)
	}
	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	if i, ok := vars["datasource"]; !ok || d.Templating.List[i].Type != "datasource" || string(d.Templating.List[i].Query) != `"prometheus"` {
		t.Errorf("no datasource variable of type datasource querying prometheus")
	}
	if i, ok := vars["ward"]; !ok || !strings.Contains(string(d.Templating.List[i].Query), "label_values(sohoa_ward_info, ward)") ||
		d.Templating.List[i].Datasource == nil || d.Templating.List[i].Datasource.UID != "${datasource}" || d.Templating.List[i].AllValue != ".*" {
		t.Errorf("ward variable: %+v", d.Templating.List[vars["ward"]])
	}
	ids := map[int]bool{}
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		types = append(types, p.Type)
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: datasource %+v", p.Title, q.RefID, q.Datasource)
			}
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q query %s: no expr", p.Title, q.RefID)
			}
		}
	}
	return types
}

// TestDashboardTownTable checks the town table's colours: red under 80,
// orange under 100, green at 100.
func TestDashboardTownTable(t *testing.T) {
	d := readDashboard(t)
	for _, p := range allPanels(d.Panels) {
		if p.Type != "table" {
			continue
		}
		var fc struct {
			Overrides []struct {
				Matcher struct {
					Options string `json:"options"`
				} `json:"matcher"`
				Properties []struct {
					ID    string          `json:"id"`
					Value json.RawMessage `json:"value"`
				} `json:"properties"`
			} `json:"overrides"`
		}
		if err := json.Unmarshal(p.FieldConfig, &fc); err != nil {
			t.Fatal(err)
		}
		for _, o := range fc.Overrides {
			if o.Matcher.Options != "Tỷ lệ số hóa (%)" {
				continue
			}
			var got []string
			for _, prop := range o.Properties {
				got = append(got, prop.ID+"="+strings.Join(strings.Fields(string(prop.Value)), ""))
			}
			all := strings.Join(got, " ")
			for _, want := range []string{
				`thresholds={"mode":"absolute","steps":[{"color":"red","value":null},{"color":"orange","value":80},{"color":"green","value":100}]}`,
				`custom.cellOptions={"type":"color-background","mode":"basic"}`,
				`unit="percent"`,
			} {
				if !strings.Contains(all, want) {
					t.Errorf("rate column lacks %s; has %s", want, all)
				}
			}
			return
		}
	}
	t.Error("no table with a Tỷ lệ số hóa (%) column")
}

// dashboardExprs are every query's PromQL.
func dashboardExprs(d dashboard) []string {
	var out []string
	for _, p := range allPanels(d.Panels) {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
	}
	return out
}

// TestDashboardPromQL parses every query with promtool, Grafana's variables
// replaced by values of their kind.
func TestDashboardPromQL(t *testing.T) { checkDashboardPromQL(t, readDashboard(t)) }

func checkDashboardPromQL(t *testing.T, d dashboard) {
	t.Helper()
	r := strings.NewReplacer(`$__rate_interval`, "2m", `$__interval`, "1m", `$__range`, "1h",
		`${ward}`, ".*", `$ward`, ".*", `${month}`, "current", `$month`, "current")
	var exprs []string
	for _, e := range dashboardExprs(d) {
		e = r.Replace(e)
		if strings.Contains(e, "$") {
			t.Errorf("unknown variable in %q", e)
		}
		exprs = append(exprs, e)
	}
	promtoolParse(t, exprs)
}
