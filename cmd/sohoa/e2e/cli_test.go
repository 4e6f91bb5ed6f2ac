package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
	"github.com/sohoa/sohoa/metrics/report"
)

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestCheckJSONOverCorpus(t *testing.T) {
	rows, corpus := testenv.Expected(t), testenv.Corpus(t)
	args := []string{"check", "--json"}
	for _, r := range rows {
		args = append(args, filepath.Join(corpus, r.File))
	}
	out, err := exec.Command(binPath, args...).Output()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1 (the corpus has invalid files): %v", code, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	for ; sc.Scan(); i++ {
		var got checkResult
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Text())
		}
		r := rows[i]
		if got.Valid != (r.Verdict == "valid") {
			t.Errorf("%s: valid=%v, expected %s (%s: %s)", r.File, got.Valid, r.Verdict, got.Reason, got.Detail)
		}
		if !got.Valid && got.Message == "" {
			t.Errorf("%s: invalid without a Vietnamese message", r.File)
		}
		// Linked by its name: the one code in it.
		if len(r.Codes) == 1 && strings.Contains(r.File, r.Codes[0]) && r.Verdict == "valid" && !slices.Equal(got.Dossiers, r.Codes) {
			t.Errorf("%s: dossiers %q, want %s", r.File, got.Dossiers, r.Codes[0])
		}
		if got.Valid && (got.Pages < 1 || got.MinDPI < 200) {
			t.Errorf("%s: valid with %d pages at %.0f dpi", r.File, got.Pages, got.MinDPI)
		}
	}
	if i != len(rows) {
		t.Errorf("%d JSON lines for %d files", i, len(rows))
	}
}

func TestCLIExitCodes(t *testing.T) {
	good := filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf")
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badCfg, []byte("ward:\n  code: 000.00.12.H57\nwatch:\n  mode: inotify\n"), 0o600)
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", good}, 0, "valid"},
		{[]string{"check", filepath.Join(testenv.Corpus(t), "lowres_0001.pdf")}, 1, "low_dpi"},
		{[]string{"check", "/nonexistent.pdf"}, 2, "/nonexistent.pdf: no such file"},
		{[]string{"check", good, "/nonexistent.pdf"}, 2, "no such file"},
		{[]string{"check"}, 2, "no files"},
		{[]string{"check", "--bogus", good}, 2, "flag provided but not defined"},
		{[]string{"check", "-config", badCfg}, 2, "line 4: watch.mode"},
		{[]string{"run", "-config", badCfg}, 2, "line 4: watch.mode"},
		{[]string{"version"}, 0, "sohoa "},
		// --help: exit 0, with the arguments, not only the flags.
		{[]string{"run", "--help"}, 0, "usage: sohoa run [-config FILE]"},
		{[]string{"check", "--help"}, 0, "[--json] FILE..."},
		{[]string{"parked", "-h"}, 0, "usage: sohoa parked"},
		{[]string{"retry", "--help"}, 0, "(--all | --dossier CODE | SHA256-PREFIX)"},
		{[]string{"coversheet", "--help"}, 0, "CODE... -o FILE.pdf"},
		{[]string{"import", "--help"}, 0, "FILE.csv|FILE.xlsx..."},
		{[]string{"report", "--help"}, 0, "no period: the current month"},
		{[]string{"report", "merge", "--help"}, 0, "WARD.csv..."},
		{[]string{"sign-test", "--help"}, 0, "usage: sohoa sign-test [-config FILE] [-o FILE.pdf]"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{nil, 2, "Usage"},
	}
	for _, tt := range tests {
		out, err := exec.Command(binPath, tt.args...).CombinedOutput()
		if code := exitCode(err); code != tt.code || !strings.Contains(string(out), tt.out) {
			t.Errorf("sohoa %q: exit %d, output %q; want exit %d with %q", tt.args, code, out, tt.code, tt.out)
		}
	}
}

func TestSecondDaemonOnSameDataDirFails(t *testing.T) {
	e := newEnv(t)
	e.start()
	out, err := exec.Command(binPath, "run", "-config", e.config).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "locked by another process") {
		t.Errorf("second daemon: %v\n%s", err, out)
	}
}

func TestCoversheetCLI(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cover.pdf")
	b, err := exec.Command(binPath, "coversheet", "000.00.12.h57-200320-0001", "000.00.12.H57-200320-0002", "-o", out).CombinedOutput()
	if err != nil {
		if !testenv.CI() && strings.Contains(string(b), "fonts-dejavu-core") {
			t.Skip("DejaVu fonts not installed")
		}
		t.Fatalf("coversheet: %v\n%s", err, b)
	}
	res, err := exec.Command(binPath, "check", "--json", out).Output()
	if err != nil && exitCode(err) != 1 {
		t.Fatal(err)
	}
	var r checkResult
	if err := json.Unmarshal(res, &r); err != nil || r.Pages != 2 {
		t.Errorf("cover sheet for two codes: %s (%v)", res, err)
	}
	if b, _ := exec.Command(binPath, "coversheet", "not-a-code", "-o", out).CombinedOutput(); !strings.Contains(string(b), "not a dossier code") {
		t.Errorf("a bad code was accepted: %s", b)
	}
}

func TestReportMergeCLI(t *testing.T) {
	dir := t.TempDir()
	ict := dossier.ICT()
	from, to := time.Date(2019, 12, 16, 0, 0, 0, 0, ict), time.Date(2020, 3, 18, 0, 0, 0, 0, ict)
	var files []string
	for _, w := range []struct {
		name                string
		received, digitized int
	}{{"Phường Hương Chũ", 250, 156}, {"Xã Hương Phong", 574, 19}} {
		var ds []report.Dossier
		for i := range w.received {
			d := report.Dossier{Code: fmt.Sprintf("000.00.12.H57-200101-%04d", i+1), Received: from.Add(24 * time.Hour)}
			if i < w.digitized {
				d.Digitized = from.Add(48 * time.Hour)
			}
			ds = append(ds, d)
		}
		var buf bytes.Buffer
		if err := report.WriteCSV(&buf, []report.Row{report.Compute("000.00.12.H57", w.name, ds, from, to, to)}); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, w.name+".csv")
		os.WriteFile(p, buf.Bytes(), 0o644)
		files = append(files, p)
	}
	out, err := exec.Command(binPath, append([]string{"report", "merge", "--format", "csv"}, files...)...).Output()
	if err != nil {
		t.Fatalf("report merge: %v", err)
	}
	for _, want := range []string{"\ufeff", "Phường Hương Chũ,250,156,\"62,40\"", "Xã Hương Phong,574,19,\"3,31\"", "TỔNG SỐ,824,175,"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("merged CSV lacks %q:\n%s", want, out)
		}
	}
	xlsx := filepath.Join(dir, "town.xlsx")
	if b, err := exec.Command(binPath, append([]string{"report", "merge", "--format", "xlsx", "-o", xlsx}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("xlsx: %v %s", err, b)
	}
	if b, _ := os.ReadFile(xlsx); !bytes.HasPrefix(b, []byte("PK")) {
		t.Error("xlsx output is not a zip file")
	}
}

// Without -config a command uses $SOHOA_CONFIG, and says so: on a counter PC
// `sohoa check` judged with the embedded defaults' ward.
func TestCLIFindsConfig(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "inbox"), 0o755)
	cfg := filepath.Join(dir, "other.yaml")
	os.WriteFile(cfg, []byte("ward: {code: G22.38.01.H57}\ninbox: "+filepath.Join(dir, "inbox")+"\n"), 0o600)
	good := filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf")
	check := func(env ...string) (checkResult, string) {
		cmd := exec.Command(binPath, "check", "--json", good)
		cmd.Env = append(os.Environ(), env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var r checkResult
		if err != nil || json.Unmarshal(out, &r) != nil {
			t.Fatalf("check %v: %v\n%s%s", env, err, out, stderr.String())
		}
		return r, stderr.String()
	}
	r, said := check("SOHOA_CONFIG=" + cfg)
	if r.Hold != "foreign_agency" || !strings.Contains(said, "using "+cfg+" ($SOHOA_CONFIG)") {
		t.Errorf("with $SOHOA_CONFIG of ward G22.38.01.H57: hold %q, stderr %q", r.Hold, said)
	}
	r, said = check("SOHOA_CONFIG=")
	if r.Hold != "" || len(r.Dossiers) != 1 || !strings.Contains(said, "using the embedded defaults") {
		t.Errorf("with the embedded defaults: hold %q, dossiers %q, stderr %q", r.Hold, r.Dossiers, said)
	}
	// -config wins, and a $SOHOA_CONFIG that is missing is an error, not the defaults.
	cmd := exec.Command(binPath, "check", "-config", cfg)
	cmd.Env = append(os.Environ(), "SOHOA_CONFIG=/nonexistent.yaml")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), cfg+": configuration is valid") {
		t.Errorf("check -config with a bad $SOHOA_CONFIG: %v %s", err, out)
	}
	cmd = exec.Command(binPath, "check", good)
	cmd.Env = append(os.Environ(), "SOHOA_CONFIG=/nonexistent.yaml")
	if out, err := cmd.CombinedOutput(); exitCode(err) != 2 || !strings.Contains(string(out), "/nonexistent.yaml") {
		t.Errorf("check with a missing $SOHOA_CONFIG: exit %d %s", exitCode(err), out)
	}
}

// The IT commands against a running daemon: report with no period is this
// month's, retry with nothing to requeue exits 1 as the README says.
func TestCLIReportAndRetryDefaults(t *testing.T) {
	e := newEnv(t)
	e.start()
	out, err := exec.Command(binPath, "report", "-config", e.config, "--format", "csv").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Phường Hương Văn") {
		t.Errorf("report with no period: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--all"}, {"--dossier", "000.00.12.H57-200320-0001"}, {"0123456789ab"}} {
		out, err := exec.Command(binPath, append([]string{"retry", "-config", e.config}, args...)...).CombinedOutput()
		if exitCode(err) != 1 || !strings.Contains(string(out), "no parked upload") {
			t.Errorf("retry %q with nothing parked: exit %d\n%s", args, exitCode(err), out)
		}
	}
	if out, err := exec.Command(binPath, "parked", "-config", e.config).CombinedOutput(); err != nil || !strings.Contains(string(out), "no parked uploads") {
		t.Errorf("parked with nothing parked: %v\n%s", err, out)
	}
	// sohoa_build_info carries node_exporter's build labels, and the ward.
	info := regexp.MustCompile(`(?m)^sohoa_build_info\{branch="[^"]+",goarch="` + runtime.GOARCH + `",goos="` + runtime.GOOS +
		`",goversion="go[^"]+",revision="[^"]+",tags="[^"]+",version="[^"]+",ward="000.00.12.H57"\} 1$`)
	if m := e.metrics(); !info.MatchString(m) {
		t.Errorf("sohoa_build_info lacks labels:\n%s", regexp.MustCompile(`(?m)^sohoa_build_info\{.*$`).FindAllString(m, -1))
	}
}

// A release build's -ldflags name its version, revision and branch.
func TestVersionFromLdflags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sohoa")
	ld := "-X main.version=9.9.9 -X main.revision=feedbeef -X main.branch=release-9"
	if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", bin, "github.com/sohoa/sohoa/cmd/sohoa").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if want := "sohoa 9.9.9 (revision feedbeef, branch release-9) " + runtime.Version(); err != nil || !strings.HasPrefix(string(out), want) {
		t.Errorf("version: %v %q, want %q", err, out, want)
	}
}

// Two daemons on one inbox with different data dirs: the second refuses,
// naming the first, instead of both taking and uploading every scan.
func TestSecondDaemonOnSameInboxFails(t *testing.T) {
	e := newEnv(t)
	e.start()
	other := newEnv(t)
	other.inbox = e.inbox
	other.writeConfig(fmt.Sprintf("upload:\n  sink: dir\n  dir: {path: %q}\n", other.outbox))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a daemon that runs fails the test
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, "run", "-config", other.config).CombinedOutput()
	want := fmt.Sprintf("inbox %s is watched by another sohoa (pid %d, data_dir %s", e.inbox, e.cmd.Process.Pid, e.data)
	if exitCode(err) != 1 || !strings.Contains(string(out), want) {
		t.Errorf("second daemon on the inbox: exit %d, want 1 with %q:\n%s", exitCode(err), want, out)
	}
	// The lock goes with its holder, even killed.
	e.kill()
	other.start()
}

// An inbox the daemon cannot write (no staff folders, no notes) fails
// `sohoa check -config` run as the daemon's user, and the start. As root
// only (it runs sohoa as another user).
func TestUnwritableInboxFailsCheckAndStart(t *testing.T) {
	testenv.NeedRoot(t, "running sohoa as another user")
	e := newEnv(t)
	const nobody = 65534
	for _, d := range []string{filepath.Dir(binPath), filepath.Dir(e.dir), e.dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(e.config, 0o644)
	os.Mkdir(e.data, 0o750)
	for _, d := range []string{e.data, e.outbox} {
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a daemon that runs fails the test
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, append(args, "-config", e.config)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	if out, code := run("check"); code != 1 || !strings.Contains(out, "inbox: "+e.inbox+" is not writable") {
		t.Errorf("check -config with an inbox root's 0755: exit %d\n%s", code, out)
	}
	if out, code := run("run"); code != 1 || !strings.Contains(out, "inbox "+e.inbox+": cannot make its lock file") {
		t.Errorf("run with an inbox root's 0755: exit %d\n%s", code, out)
	}
	os.Chown(e.inbox, nobody, nobody)
	if out, code := run("check"); code != 0 {
		t.Errorf("check -config with the inbox nobody's: exit %d\n%s", code, out)
	}
}

// A relative inbox, as in the README's demo (./var/inbox), works as an
// absolute one: the code-named folder a scan was saved in is removed once
// it is taken.
func TestRelativeInbox(t *testing.T) {
	e := newEnv(t)
	e.workDir = e.dir
	cfg := fmt.Sprintf("ward: {code: %q}\ninbox: ./inbox\ndata_dir: data\nlisten: \"127.0.0.1:0\"\nlog_level: debug\n"+
		"watch: {quiet: 300ms, rescan: 1s}\nupload: {sink: dir, dir: {path: ./outbox}}\n", e.ward)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	folder := filepath.Join(e.inbox, "000.00.12.H57-200320-0001")
	copyFile(t, filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf"), filepath.Join(folder, "scan.pdf"))
	e.waitFor("the delivery", 30*time.Second, func() bool { return len(e.outboxFiles()) == 1 })
	e.waitFor("the emptied code-named folder to go", 10*time.Second, func() bool {
		_, err := os.Stat(folder)
		return errors.Is(err, fs.ErrNotExist)
	})
}
