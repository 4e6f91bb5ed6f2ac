package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// The received-dossier registry through the real binary: sohoa import and
// sohoa report, with the daemon running (through its admin socket) and
// stopped (on its database), and the town's table merged from fifteen
// daemons' reports.

// registryConfig is the upload section of the tests' daemons: a local
// outbox, receipts not read (the scans are named with their codes).
func registryConfig(e *env) string {
	return fmt.Sprintf(`link: {barcodes: "off"}
upload:
  sink: dir
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  dir: {path: %q}
`, e.outbox)
}

// sohoa runs the binary and returns its exit code, stdout and stderr.
func sohoa(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// uniqueScans writes, into a staging folder beside the inbox, one valid
// scan per code named <code>.pdf, each made distinct by a PDF comment after
// %%EOF, and then moves them all into the inbox.
func (e *env) dropScans(codes []string) {
	e.t.Helper()
	base, err := os.ReadFile(filepath.Join(testenv.Corpus(e.t), "scan_0005.pdf"))
	if err != nil {
		e.t.Fatal(err)
	}
	stage := filepath.Join(e.dir, "stage")
	if err := os.MkdirAll(stage, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for _, c := range codes {
		b := append(append([]byte(nil), base...), "\n% "+c+"\n"...)
		if err := os.WriteFile(filepath.Join(stage, c+".pdf"), b, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, c := range codes {
		if err := os.Rename(filepath.Join(stage, c+".pdf"), filepath.Join(e.inbox, c+".pdf")); err != nil {
			e.t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, p, content string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImportAndReport imports a received list while the daemon runs and
// again after it stopped, and checks the report both ways.
func TestImportAndReport(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(registryConfig(e))
	ward := `{ward="000.00.12.H57"}`
	// Before the daemon ever ran there is no database to import into.
	list := writeFile(t, filepath.Join(e.dir, "list.csv"), "\uFEFFSTT,Mã hồ sơ,Ngày tiếp nhận,Hạn trả kết quả,Ngày trả kết quả\r\n"+
		"1,000.00.12.H57-200302-0001,02/03/2020,05/03/2020,04/03/2020\r\n"+
		"2,000.00.12.H57-200302-0002,02/03/2020 09:15,05/03/2020,\r\n"+
		"3,000.00.12.H57-200310-0001,10/03/2020,12/03/2020,13/03/2020\r\n"+
		"4,000.00.01.H57-200310-0001,10/03/2020,12/03/2020,\r\n"+ // another agency's
		"5,000.00.12.H57-200311-0001,31/02/2020,,\r\n") // no such day
	if code, _, stderr := sohoa(t, "import", "-config", e.config, "--skip-bad", list); code != 1 || !strings.Contains(stderr, "no database") {
		t.Errorf("import before any start: exit %d, %s", code, stderr)
	}

	e.start()
	code, stdout, stderr := sohoa(t, "import", "-config", e.config, list)
	if code != 1 || !strings.Contains(stderr, "list.csv: line 6:") || !strings.Contains(stderr, "nothing imported") ||
		!strings.Contains(stderr, "line 5: 000.00.01.H57-200310-0001: another agency's code") || stdout != "" {
		t.Errorf("import with a bad row: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if got := e.metric("sohoa_dossiers_received_total" + ward); got != 0 {
		t.Errorf("a file with a bad row was partly imported: received %v", got)
	}
	code, stdout, stderr = sohoa(t, "import", "-config", e.config, "--skip-bad", list)
	if code != 0 || !strings.Contains(stdout, "3 rows: 3 added, 0 updated, 0 unchanged") {
		t.Errorf("import --skip-bad: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	// One dossier of the list and one known only from its scan (received
	// on 15/03/2020 by its code) are digitized.
	e.dropScans([]string{"000.00.12.H57-200302-0001", "000.00.12.H57-200315-0001"})
	e.waitFor("two dossiers digitized", 30*time.Second, func() bool {
		return e.metric("sohoa_dossiers_digitized_total"+ward) == 2
	})
	if got := e.metric("sohoa_dossiers_received_total" + ward); got != 4 {
		t.Errorf("sohoa_dossiers_received_total = %v, want 4 (3 imported, 1 from a scan)", got)
	}

	// Through the daemon: March 2020 has the four; the scan-only dossier
	// has no due date, so no resolution columns.
	wantCSV := "\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)\r\n1,Phường Hương Văn,4,2,50\r\n"
	code, stdout, stderr = sohoa(t, "report", "-config", e.config, "--month", "2020-03", "--format", "csv")
	if code != 0 || stdout != wantCSV {
		t.Errorf("report via the daemon: exit %d\n%q\nwant %q\nstderr %s", code, stdout, wantCSV, stderr)
	}
	// The imported dossiers alone, 1–10 March: due dates known for all.
	code, stdout, _ = sohoa(t, "report", "-config", e.config, "--from", "2020-03-01", "--to", "2020-03-10", "--format", "csv")
	wantRes := "\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%),Đã giải quyết đúng hạn,Đã giải quyết quá hạn," +
		"Đang giải quyết chưa đến hạn,Đang giải quyết quá hạn,Bình quân hồ sơ/ngày\r\n" +
		"1,Phường Hương Văn,3,1,\"33,33\",1,1,0,1,\"0,30\"\r\n"
	if code != 0 || stdout != wantRes {
		t.Errorf("report with resolution: exit %d\n%q\nwant %q", code, stdout, wantRes)
	}
	if code, _, stderr := sohoa(t, "report", "-config", e.config, "--month", "2020-03", "--from", "2020-03-01"); code != 2 {
		t.Errorf("--month with --from: exit %d, %s", code, stderr)
	}
	if code, _, _ := sohoa(t, "report", "-config", e.config, "--from", "2020-03-10", "--to", "2020-03-01"); code != 2 {
		t.Errorf("--to before --from: exit %d", code)
	}
	e.stop()

	// Without the daemon: the same file again changes nothing; a changed
	// row updates; the report reads the database.
	code, stdout, stderr = sohoa(t, "import", "-config", e.config, "--skip-bad", list)
	if code != 0 || !strings.Contains(stdout, "3 rows: 0 added, 0 updated, 3 unchanged") || !strings.Contains(stderr, "not running") {
		t.Errorf("second import: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	changed := writeFile(t, filepath.Join(e.dir, "changed.csv"), "Ma ho so;Ngay tiep nhan;Han tra ket qua;Ngay tra ket qua\n"+
		"000.00.12.H57-200302-0002;02/03/2020 09:15;05/03/2020;05/03/2020\n")
	code, stdout, _ = sohoa(t, "import", "-config", e.config, changed)
	if code != 0 || !strings.Contains(stdout, "1 rows: 0 added, 1 updated, 0 unchanged") {
		t.Errorf("changed row: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = sohoa(t, "report", "-config", e.config, "--from", "2020-03-01", "--to", "2020-03-10")
	if code != 0 || !strings.Contains(stdout, "Phường Hương Văn") || !strings.Contains(stdout, "33,33") {
		t.Errorf("report from the database: exit %d\n%s", code, stdout)
	}
	xlsx := filepath.Join(e.dir, "r.xlsx")
	if code, _, stderr := sohoa(t, "report", "-config", e.config, "--month", "2020-03", "--format", "xlsx", "-o", xlsx); code != 0 {
		t.Errorf("xlsx report: exit %d %s", code, stderr)
	} else if b, err := os.ReadFile(xlsx); err != nil || !bytes.HasPrefix(b, []byte("PK")) {
		t.Errorf("xlsx report is not a workbook: %v", err)
	}
}

// letterWard is one ward's row of the town's 2020 table.
type letterWard struct {
	name                string
	received, digitized int
	rate                string
}

func readLetterTable(t *testing.T) (wards []letterWard, total letterWard) {
	t.Helper()
	// The official table (../shared/reference/huong-tra-2020.tsv), as
	// metrics/report keeps its copy (its TestLetterCopy keeps them equal).
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "metrics", "report", "testdata", "huong-tra-2020.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if strings.HasPrefix(line, "#") || f[0] == "ward" {
			continue
		}
		var w letterWard
		w.name, w.rate = f[0], f[3]
		if _, err := fmt.Sscan(f[1], &w.received); err != nil {
			t.Fatal(err)
		}
		if _, err := fmt.Sscan(f[2], &w.digitized); err != nil {
			t.Fatal(err)
		}
		if w.name == "TỔNG SỐ" {
			total = w
			continue
		}
		wards = append(wards, w)
	}
	if len(wards) != 15 {
		t.Fatalf("%d wards in the letter's table", len(wards))
	}
	return wards, total
}

// TestTownReport runs one daemon per ward of the town's 2020 letter, each
// with its own agency code, registry and scans: each imports its received
// list, its digitized dossiers are scanned and uploaded through the real
// pipeline, each prints its report CSV, and sohoa report merge of the
// fifteen files reproduces the letter's digitization columns exactly.
func TestTownReport(t *testing.T) {
	wards, total := readLetterTable(t)
	first := time.Date(2019, 12, 16, 0, 0, 0, 0, time.UTC)
	const days = 94 // 16/12/2019 to 18/3/2020
	envs := make([]*env, len(wards))
	for i, w := range wards {
		e := newEnv(t)
		e.ward, e.wardName = fmt.Sprintf("000.00.%02d.H57", i+1), w.name
		e.writeConfig(registryConfig(e))
		envs[i] = e
		// The received list: dossiers spread over the period's days,
		// numbered per day as the one-stop system numbers them.
		var list strings.Builder
		list.WriteString("Mã hồ sơ,Ngày tiếp nhận,Thủ tục\n")
		var codes []string
		seq := map[int]int{}
		for n := range w.received {
			d := n * days / w.received
			seq[d]++
			day := first.AddDate(0, 0, d)
			code := fmt.Sprintf("%s-%s-%04d", e.ward, day.Format("060102"), seq[d])
			codes = append(codes, code)
			fmt.Fprintf(&list, "%s,%s,Chứng thực bản sao\n", code, day.Format("02/01/2006"))
		}
		p := writeFile(t, filepath.Join(e.dir, "tiep-nhan.csv"), list.String())
		e.start()
		if code, stdout, stderr := sohoa(t, "import", "-config", e.config, p); code != 0 {
			t.Fatalf("%s: import: exit %d\n%s%s", w.name, code, stdout, stderr)
		}
		e.dropScans(codes[:w.digitized])
	}
	var files []string
	for i, w := range wards {
		e := envs[i]
		series := fmt.Sprintf("sohoa_dossiers_digitized_total{ward=%q}", e.ward)
		e.waitFor(w.name+" digitized", 120*time.Second, func() bool { return e.metric(series) == float64(w.digitized) })
		code, stdout, stderr := sohoa(t, "report", "-config", e.config, "--from", "2019-12-16", "--to", "2020-03-18", "--format", "csv")
		if code != 0 {
			t.Fatalf("%s: report: exit %d %s", w.name, code, stderr)
		}
		files = append(files, writeFile(t, filepath.Join(e.dir, "report.csv"), stdout))
	}
	code, stdout, stderr := sohoa(t, append([]string{"report", "merge", "--format", "csv"}, files...)...)
	if code != 0 {
		t.Fatalf("merge: exit %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(stdout, "\uFEFF")), "\r\n")
	if len(lines) != len(wards)+2 || lines[0] != "STT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)" {
		t.Fatalf("merged table:\n%s", stdout)
	}
	quote := func(s string) string {
		if strings.Contains(s, ",") {
			return `"` + s + `"`
		}
		return s
	}
	for i, w := range append(wards, total) {
		stt := fmt.Sprint(i + 1)
		if w.name == "TỔNG SỐ" {
			stt = ""
		}
		want := fmt.Sprintf("%s,%s,%d,%d,%s", stt, w.name, w.received, w.digitized, quote(w.rate))
		if lines[i+1] != want {
			t.Errorf("row %d: %s\nwant    %s", i+1, lines[i+1], want)
		}
	}
}
