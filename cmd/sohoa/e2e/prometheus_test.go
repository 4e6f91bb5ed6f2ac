package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestPrometheus runs Debian's real prometheus scraping a real daemon that
// has an imported registry and uploaded scans, with configs/prometheus's
// rules loaded, and checks through Prometheus' HTTP API that the recorded
// ward ratio of the current and previous month equals what `sohoa report`
// prints for them, and that every dashboard query evaluates.
func TestPrometheus(t *testing.T) {
	prom := testenv.NeedTool(t, "prometheus", "prometheus")
	e := newEnv(t)
	e.writeConfig(registryConfig(e))
	e.start()

	// This month: 7 dossiers in the registry on its first day, 3 of them
	// scanned, and 1 more known only from its scan. Last month: 3, 1 scanned.
	ict := dossier.ICT()
	now := time.Now().In(ict)
	cur := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, ict)
	prev := cur.AddDate(0, -1, 0)
	code := func(d time.Time, n int) string { return fmt.Sprintf("%s-%s-%04d", e.ward, d.Format("060102"), n) }
	var list strings.Builder
	list.WriteString("Mã hồ sơ,Ngày tiếp nhận\n")
	for n := 1; n <= 7; n++ {
		fmt.Fprintf(&list, "%s,%s\n", code(cur, n), cur.Format("02/01/2006"))
	}
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(&list, "%s,%s\n", code(prev, n), prev.Format("02/01/2006"))
	}
	p := writeFile(t, filepath.Join(e.dir, "list.csv"), list.String())
	if c, out, errs := sohoa(t, "import", "-config", e.config, p); c != 0 {
		t.Fatalf("import: exit %d %s %s", c, out, errs)
	}
	e.dropScans([]string{code(cur, 1), code(cur, 2), code(cur, 3), code(cur, 9), code(prev, 1)})
	e.waitFor("five dossiers digitized", 30*time.Second, func() bool {
		return e.metric(fmt.Sprintf("sohoa_dossiers_digitized_total{ward=%q}", e.ward)) == 5
	})

	want := map[string]float64{}
	for month, first := range map[string]time.Time{"current": cur, "previous": prev} {
		c, out, errs := sohoa(t, "report", "-config", e.config, "--month", first.Format("2006-01"), "--format", "csv")
		if c != 0 {
			t.Fatalf("report: exit %d %s", c, errs)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("report CSV %q: %v", out, err)
		}
		received, _ := strconv.Atoi(recs[1][2])
		digitized, _ := strconv.Atoi(recs[1][3])
		want[month] = float64(digitized) / float64(received)
	}
	if want["current"] != 0.5 || want["previous"] != 1.0/3 {
		t.Fatalf("sohoa report's rates %v, want current 4/8, previous 1/3", want)
	}

	// Prometheus on a free loopback port, scraping and evaluating every second.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := ln.Addr().String()
	ln.Close()
	rules := filepath.Join(testenv.Root(t), "configs", "prometheus", "sohoa.rules.yml")
	target := strings.TrimPrefix(e.metricsURL, "http://")
	cfg := writeFile(t, filepath.Join(e.dir, "prometheus.yml"), fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: sohoa
    static_configs: [{targets: [%q], labels: {ward_name: %q}}]
`, rules, target, e.wardName))
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(e.dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	var promLog strings.Builder
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	query := func(q string) (values []float64, labels []map[string]string, err error) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		var r struct {
			Status, Error string
			Data          struct {
				ResultType string `json:"resultType"`
				Result     []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return nil, nil, err
		}
		if r.Status != "success" {
			return nil, nil, fmt.Errorf("%s: %s", q, r.Error)
		}
		for _, s := range r.Data.Result {
			v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
			values, labels = append(values, v), append(labels, s.Metric)
		}
		return values, labels, nil
	}
	for month, rate := range want {
		q := fmt.Sprintf(`ward_month:sohoa_digitization:ratio{month=%q}`, month)
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, l, err := query(q)
			if err == nil && len(v) == 1 {
				if math.Abs(v[0]-rate) > 1e-9 || l[0]["ward"] != e.ward {
					t.Errorf("%s = %v %v, sohoa report says %v", q, v[0], l[0], rate)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no value after 30s (%v %v); prometheus log:\n%s", q, v, err, promLog.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The town's row over this one ward, and the ward's since-ever ratio.
	if v, _, err := query(`month:sohoa_digitization:ratio{month="current"}`); err != nil || len(v) != 1 || v[0] != want["current"] {
		t.Errorf("town ratio: %v %v", v, err)
	}
	if v, _, err := query(`ward:sohoa_digitization:ratio`); err != nil || len(v) != 1 || v[0] != 5.0/11 {
		t.Errorf("ward ratio since ever: %v %v, want 5/11", v, err)
	}

	// Every dashboard query, Grafana's variables filled in, evaluates; those
	// of the month cohorts have a value.
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "configs", "grafana", "sohoa-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct{ Panels []dashPanel }
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`$__rate_interval`, "1m", `$__interval`, "15s", `$__range`, "5m",
		`${ward}`, ".*", `$ward`, ".*", `${month}`, "current", `$month`, "current")
	n := 0
	for _, expr := range dashExprs(dash.Panels) {
		q := vars.Replace(expr)
		v, _, err := query(q)
		n++
		switch {
		case err != nil:
			t.Errorf("dashboard query: %v", err)
		case strings.Contains(q, "sohoa_month_dossiers") && len(v) == 0:
			t.Errorf("dashboard query %s: no value", q)
		}
	}
	if n < 10 {
		t.Errorf("only %d dashboard queries", n)
	}
}

type dashPanel struct {
	Targets []struct{ Expr string }
	Panels  []dashPanel
}

func dashExprs(ps []dashPanel) []string {
	var out []string
	for _, p := range ps {
		for _, q := range p.Targets {
			out = append(out, q.Expr)
		}
		out = append(out, dashExprs(p.Panels)...)
	}
	return out
}
