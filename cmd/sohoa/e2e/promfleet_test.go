package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestPrometheusFleet runs the province's setup for wards behind NAT: three
// real daemons (three wards), Debian's prometheus in agent mode scraping
// them and remote-writing to a second, central prometheus with the
// remote-write receiver. After imports and scans, `sohoa report
// --prometheus` against the central one prints, for the current and the
// previous month, exactly what `sohoa report merge` prints of the three
// wards' own CSVs; a month before Prometheus' data it refuses, naming it.
func TestPrometheusFleet(t *testing.T) {
	prom := testenv.NeedTool(t, "prometheus", "prometheus")
	ict := dossier.ICT()
	now := time.Now().In(ict)
	cur := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, ict)
	prev := cur.AddDate(0, -1, 0)

	wards := []struct{ code, name string }{
		{"000.00.12.H57", "Phường Hương Văn"}, {"000.00.13.H57", "Phường Tứ Hạ"}, {"000.00.14.H57", "Xã Hương Phong"},
	}
	var envs []*env
	var targets []string
	for i, w := range wards {
		e := newEnv(t)
		e.ward, e.wardName = w.code, w.name
		e.writeConfig(registryConfig(e))
		e.start()
		// Ward i: 4+i dossiers this month on its first day, 2+i last month;
		// i+1 of this month's and 1 of last month's scanned, and one more
		// dossier of this month known only from its scan.
		code := func(d time.Time, n int) string { return fmt.Sprintf("%s-%s-%04d", e.ward, d.Format("060102"), n) }
		var list strings.Builder
		list.WriteString("Mã hồ sơ,Ngày tiếp nhận\n")
		for n := 1; n <= 4+i; n++ {
			fmt.Fprintf(&list, "%s,%s\n", code(cur, n), cur.Format("02/01/2006"))
		}
		for n := 1; n <= 2+i; n++ {
			fmt.Fprintf(&list, "%s,%s\n", code(prev, n), prev.Format("02/01/2006"))
		}
		p := writeFile(t, filepath.Join(e.dir, "list.csv"), list.String())
		if c, out, errs := sohoa(t, "import", "-config", e.config, p); c != 0 {
			t.Fatalf("import %s: exit %d %s %s", w.name, c, out, errs)
		}
		scans := []string{code(prev, 1), code(cur, 90)}
		for n := 1; n <= i+1; n++ {
			scans = append(scans, code(cur, n))
		}
		e.dropScans(scans)
		want := float64(len(scans))
		e.waitFor(fmt.Sprintf("%s: %v dossiers digitized", w.name, want), 60*time.Second, func() bool {
			return e.metric(fmt.Sprintf("sohoa_dossiers_digitized_total{ward=%q}", e.ward)) == want
		})
		envs = append(envs, e)
		targets = append(targets, strings.TrimPrefix(e.metricsURL, "http://"))
	}

	dir := t.TempDir()
	central := freeAddr(t)
	runPrometheus(t, prom, filepath.Join(dir, "central"), "global: {scrape_interval: 1s}\n",
		"--web.listen-address="+central, "--web.enable-remote-write-receiver",
		"--storage.tsdb.path="+filepath.Join(dir, "central", "tsdb"))
	agent := freeAddr(t)
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	runPrometheus(t, prom, filepath.Join(dir, "agent"), fmt.Sprintf(`global:
  scrape_interval: 1s
  external_labels: {province: "H57"}
scrape_configs:
  - job_name: sohoa
    static_configs: [{targets: [%s]}]
remote_write:
  - url: "http://%s/api/v1/write"
    queue_config: {batch_send_deadline: 1s}
`, strings.Join(quoted, ", "), central),
		"--enable-feature=agent", "--web.listen-address="+agent,
		"--storage.agent.path="+filepath.Join(dir, "agent", "wal"))

	for _, month := range []time.Time{cur, prev} {
		m := month.Format("2006-01")
		var files []string
		for _, e := range envs {
			c, out, errs := sohoa(t, "report", "-config", e.config, "--month", m, "--format", "csv")
			if c != 0 {
				t.Fatalf("%s report %s: exit %d %s", e.wardName, m, c, errs)
			}
			files = append(files, writeFile(t, filepath.Join(e.dir, "report-"+m+".csv"), out))
		}
		c, want, errs := sohoa(t, append([]string{"report", "merge"}, files...)...)
		if c != 0 {
			t.Fatalf("report merge %s: exit %d %s", m, c, errs)
		}
		if strings.Count(want, "\n") != 5 {
			t.Fatalf("report merge %s: not a header, three wards and a total:\n%s", m, want)
		}
		var got, gotErr string
		deadline := time.Now().Add(60 * time.Second)
		for {
			c, got, gotErr = sohoa(t, "report", "--prometheus", "http://"+central, "--month", m)
			if c == 0 && got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sohoa report --prometheus --month %s (exit %d, %s):\n%s\nsohoa report merge:\n%s", m, c, gotErr, got, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("month %s from Prometheus:\n%s", m, got)
		// The CSV, as a ward's merge input would read it, is the same table.
		c, csvOut, errs := sohoa(t, "report", "--prometheus", "http://"+central, "--month", m, "--format", "csv")
		if c != 0 {
			t.Fatalf("report --prometheus --format csv: exit %d %s", c, errs)
		}
		c, again, _ := sohoa(t, "report", "merge", writeFile(t, filepath.Join(dir, "town-"+m+".csv"), csvOut))
		if c != 0 || again != want {
			t.Errorf("merging the --prometheus CSV of %s gives (exit %d):\n%s\nwant:\n%s", m, c, again, want)
		}
	}

	// Every query of the province dashboard evaluates on the central
	// Prometheus; those of versions, reporting, uploads and rates have values.
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "configs", "grafana", "sohoa-province.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct{ Panels []dashPanel }
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`${ward}`, ".*", `$ward`, ".*", `${month}`, "current", `$month`, "current")
	for _, expr := range dashExprs(dash.Panels) {
		q := vars.Replace(expr)
		n, err := countSeries(central, q)
		switch {
		case err != nil:
			t.Errorf("province dashboard: %v", err)
		case n == 0 && (strings.Contains(q, "sohoa_build_info{") || strings.Contains(q, "sohoa_month_") ||
			strings.Contains(q, "sohoa_last_upload")):
			t.Errorf("province dashboard query %s: no value", q)
		}
	}

	// What a counter costs the province (docs/fleet.md's figures): its
	// series, and the bytes the agent sent per sample.
	if n, err := countSeries(central, fmt.Sprintf(`{ward=%q}`, wards[0].code)); err == nil {
		t.Logf("series per counter: %d", n)
	}
	if resp, err := http.Get("http://" + agent + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "prometheus_remote_storage_bytes_total") ||
				strings.HasPrefix(line, "prometheus_remote_storage_samples_total") {
				t.Log(line)
			}
		}
	}

	// Three months back Prometheus (started a minute ago) holds nothing.
	old := cur.AddDate(0, -3, 0).Format("2006-01")
	c, out, errs := sohoa(t, "report", "--prometheus", "http://"+central, "--month", old)
	if c != 1 || out != "" || !strings.Contains(errs, "cannot give the month "+old) {
		t.Errorf("report --prometheus --month %s: exit %d, stdout %q, stderr %q; want exit 1 naming the month", old, c, out, errs)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runPrometheus starts prometheus with config written in dir and the given
// flags, and stops it when the test ends; its log is shown if the test fails.
func runPrometheus(t *testing.T, bin, dir, config string, args ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, filepath.Join(dir, "prometheus.yml"), config)
	cmd := exec.Command(bin, append([]string{"--config.file=" + cfg, "--log.level=warn"}, args...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus in %s:\n%s", dir, log.String())
		}
	})
}

// countSeries evaluates an instant query on the Prometheus at addr and
// returns how many series it gives.
func countSeries(addr, q string) (int, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct{ Result []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", q, r.Error)
	}
	return len(r.Data.Result), nil
}

// TestPrometheusReportOlderMonth backfills a real Prometheus with samples
// of months gone (promtool tsdb create-blocks-from openmetrics) and checks
// that `sohoa report --prometheus` gives a month three months back from
// the last month="previous" sample of the month after it, leaves out the
// samples of the minute around a month's turn (the daemon may have counted
// after midnight) and those of later months, names a ward with no such
// sample, and refuses a month with none.
func TestPrometheusReportOlderMonth(t *testing.T) {
	prom := testenv.NeedTool(t, "prometheus", "prometheus")
	promtool := testenv.NeedTool(t, "promtool", "prometheus")
	ict := dossier.ICT()
	now := time.Now().In(ict)
	cur := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, ict)
	m := cur.AddDate(0, -3, 0) // the month asked for
	after := m.AddDate(0, 1, 0)
	const hv, th = "000.00.12.H57", "000.00.13.H57"
	type point struct {
		ward, month string
		at          time.Time
		received    int
		digitized   int
	}
	points := []point{
		{th, "current", m.AddDate(0, 0, 20), 40, 40},            // Tứ Hạ only reported during M: no figures for M
		{hv, "previous", after.Add(30 * time.Second), 999, 999}, // the month's turn: left out
		{hv, "previous", after.AddDate(0, 0, 9), 10, 5},
		{hv, "previous", after.AddDate(0, 0, 19), 10, 7},                          // the last of the month after: M's figures
		{hv, "previous", after.AddDate(0, 1, 0).Add(-20 * time.Second), 555, 555}, // a scrape at the next turn: left out
		{hv, "previous", after.AddDate(0, 1, 1), 666, 666},                        // M+1 by then
	}
	var om strings.Builder
	for _, name := range []string{"sohoa_month_dossiers_received", "sohoa_month_dossiers_digitized"} {
		fmt.Fprintf(&om, "# TYPE %s gauge\n", name)
		for _, ward := range []string{hv, th} {
			for _, p := range points {
				v := p.received
				if strings.HasSuffix(name, "digitized") {
					v = p.digitized
				}
				if p.ward == ward {
					fmt.Fprintf(&om, "%s{ward=%q,month=%q} %d %d\n", name, p.ward, p.month, v, p.at.Unix())
				}
			}
		}
	}
	om.WriteString("# TYPE sohoa_ward_info gauge\n")
	for ward, name := range map[string]string{hv: "Phường Hương Văn", th: "Phường Tứ Hạ"} {
		for d := 0; d < 60; d += 5 {
			fmt.Fprintf(&om, "sohoa_ward_info{ward=%q,name=%q} 1 %d\n", ward, name, m.AddDate(0, 0, d).Unix())
		}
	}
	om.WriteString("# EOF\n")
	dir := t.TempDir()
	tsdb := filepath.Join(dir, "tsdb")
	in := writeFile(t, filepath.Join(dir, "history.om"), om.String())
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, tsdb).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from: %v\n%s", err, out)
	}
	// Served over TLS with basic auth, as the province's should be;
	// --http-config gives the CA and the password as sohoa.yaml's upload.http.
	writeServerCert(t, dir)
	const password = "mật-khẩu báo cáo"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := writeFile(t, filepath.Join(dir, "web.yml"), fmt.Sprintf(
		"tls_server_config: {cert_file: web.crt, key_file: web.key}\nbasic_auth_users: {report: %q}\n", hash))
	writeFile(t, filepath.Join(dir, "password"), password)
	httpCfg := writeFile(t, filepath.Join(dir, "http.yaml"), fmt.Sprintf(
		"tls: {ca_file: %q}\nauth: {type: basic, username: report, password_file: %q}\n",
		filepath.Join(dir, "web.crt"), filepath.Join(dir, "password")))
	addr := freeAddr(t)
	runPrometheus(t, prom, dir, "global: {scrape_interval: 1m}\n", "--web.listen-address="+addr,
		"--web.config.file="+web, "--storage.tsdb.path="+tsdb, "--storage.tsdb.retention.time=10y")
	promURL := "https://" + addr

	var c int
	var out, errs string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		c, out, errs = sohoa(t, "report", "--prometheus", promURL, "--http-config", httpCfg, "--month", m.Format("2006-01"), "--format", "csv")
		if c == 0 || time.Now().After(deadline) {
			break
		}
	}
	want := "\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)\r\n1,Phường Hương Văn,10,7,70\r\n,TỔNG SỐ,10,7,70\r\n"
	if c != 0 || out != want {
		t.Fatalf("report --prometheus --month %s: exit %d\n%q\nwant\n%q\nstderr: %s", m.Format("2006-01"), c, out, want, errs)
	}
	if !strings.Contains(errs, "for 1 wards it knows: "+th) {
		t.Errorf("stderr %q does not name %s, which has no figures for the month", errs, th)
	}
	// The month before: no month="previous" sample during M.
	older := m.AddDate(0, -1, 0).Format("2006-01")
	c, out, errs = sohoa(t, "report", "--prometheus", promURL, "--http-config", httpCfg, "--month", older)
	if c != 1 || out != "" || !strings.Contains(errs, "cannot give the month "+older) {
		t.Errorf("report --prometheus --month %s: exit %d, stdout %q, stderr %q; want exit 1 naming the month", older, c, out, errs)
	}
	// Without the CA, or with another password, it is refused.
	if c, _, errs := sohoa(t, "report", "--prometheus", promURL, "--month", m.Format("2006-01")); c != 1 || !strings.Contains(errs, "certificate") {
		t.Errorf("without the CA: exit %d, %s", c, errs)
	}
	writeFile(t, filepath.Join(dir, "password"), "sai")
	if c, _, errs := sohoa(t, "report", "--prometheus", promURL, "--http-config", httpCfg, "--month", m.Format("2006-01")); c != 1 || !strings.Contains(errs, "401") {
		t.Errorf("with a wrong password: exit %d, %s", c, errs)
	}
}

// TestReportPrometheusCLI checks what `sohoa report --prometheus` refuses
// before asking anything, with exit 2 and the reason.
func TestReportPrometheusCLI(t *testing.T) {
	dir := t.TempDir()
	typo := writeFile(t, filepath.Join(dir, "typo.yaml"), "auth: {type: bearer, token_fil: /x}\n")
	half := writeFile(t, filepath.Join(dir, "half.yaml"), "auth: {type: basic, username: report}\n")
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "sohoa report --prometheus URL"},
		{[]string{"--prometheus", "ftp://prometheus:9090"}, 2, "is not an http:// or https:// URL"},
		{[]string{"--prometheus", "https://report:secret@prometheus:9090"}, 2, "no credentials in the URL"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--month", "2026-13"}, 2, "is not YYYY-MM"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--format", "xlsx"}, 2, "needs -o FILE"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--http-config", typo}, 2, "token_fil not found"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--http-config", half}, 2, "basic needs password_file or password_env"},
		{[]string{"--prometheus", "http://127.0.0.1:9"}, 1, "prometheus query"},
	} {
		c, out, errs := sohoa(t, append([]string{"report"}, tt.args...)...)
		if c != tt.code || !strings.Contains(out+errs, tt.out) {
			t.Errorf("sohoa report %q: exit %d, %q %q; want exit %d with %q", tt.args, c, out, errs, tt.code, tt.out)
		}
	}
}
