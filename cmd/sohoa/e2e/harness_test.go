package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real sohoa binary on temporary folders.

const corpus = "../../../shared/corpus/samples"

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sohoa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "sohoa")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build sohoa: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one daemon's folders and config.
type env struct {
	t                        *testing.T
	dir, inbox, data, outbox string
	config                   string
	cmd                      *exec.Cmd
	metricsURL               string
	credential               *syscall.Credential // run the daemon as this user; nil: as we are
	ward, wardName           string              // ward.code and ward.name in the config
	logMu                    sync.Mutex
	log                      bytes.Buffer
	// onLine, when set before start, sees each log line as it is written.
	onLine func(line string)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, inbox: filepath.Join(dir, "inbox"), data: filepath.Join(dir, "data"),
		outbox: filepath.Join(dir, "outbox"), ward: "000.00.12.H57", wardName: "Phường Hương Văn"}
	for _, d := range []string{e.inbox, e.outbox} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.config = filepath.Join(dir, "sohoa.yaml")
	e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  dir: {path: %q}
`, e.outbox))
	t.Cleanup(e.stop)
	return e
}

// writeConfig writes the daemon's config: what every test shares, and the
// given YAML (the upload section, and anything else a test needs).
func (e *env) writeConfig(rest string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`ward: {code: %q, name: %q}
inbox: %q
data_dir: %q
listen: "127.0.0.1:0"
log_level: debug
watch: {quiet: 300ms, rescan: 1s}
%s`, e.ward, e.wardName, e.inbox, e.data, rest)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

var readyLine = regexp.MustCompile(`msg="sohoa ready" metrics=(https?://\S+)/metrics`)

// start runs the daemon and waits until it serves.
func (e *env) start() {
	e.t.Helper()
	e.cmd = exec.Command(binPath, "run", "-config", e.config)
	if e.credential != nil {
		e.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.credential}
	}
	stderr, err := e.cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			e.logMu.Lock()
			e.log.WriteString(line + "\n")
			e.logMu.Unlock()
			if e.onLine != nil {
				e.onLine(line)
			}
			if m := readyLine.FindStringSubmatch(line); m != nil {
				urls <- m[1]
			}
		}
	}()
	select {
	case e.metricsURL = <-urls:
	case <-time.After(30 * time.Second):
		e.t.Fatalf("daemon not ready after 30s; log:\n%s", e.logText())
	}
}

// logText returns the daemon's last log lines, for failure messages.
func (e *env) logText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	lines := strings.Split(e.log.String(), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// stop ends the daemon with SIGTERM and checks it exits cleanly.
func (e *env) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- e.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			e.t.Errorf("daemon exited with %v; log:\n%s", err, e.logText())
		}
	case <-time.After(20 * time.Second):
		e.cmd.Process.Kill()
		e.t.Errorf("daemon did not stop within 20s of SIGTERM")
	}
	e.cmd = nil
}

// kill ends the daemon with SIGKILL, as a power cut would.
func (e *env) kill() {
	e.cmd.Process.Kill()
	e.cmd.Wait()
	e.cmd = nil
}

func (e *env) metrics() string {
	e.t.Helper()
	resp, err := http.Get(e.metricsURL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metric returns the value of one sample line, e.g. `sohoa_scans_total{ward="000.00.12.H57"}`.
func (e *env) metric(series string) float64 {
	e.t.Helper()
	for _, line := range strings.Split(e.metrics(), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatal(err)
			}
			return f
		}
	}
	e.t.Fatalf("no series %s in /metrics", series)
	return 0
}

// waitFor polls cond until it holds or the deadline passes.
func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; log:\n%s", what, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// outboxFiles lists the delivered files under the outbox, relative; the
// sink's temporary files (dot names) are not deliveries.
func (e *env) outboxFiles() map[string]string {
	e.t.Helper()
	files := map[string]string{}
	filepath.WalkDir(e.outbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(e.outbox, p)
		files[filepath.ToSlash(rel)] = p
		return nil
	})
	return files
}

// inboxFiles lists the files left in the inbox outside the staff folders.
func (e *env) inboxLeft() []string {
	var left []string
	filepath.WalkDir(e.inbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(e.inbox, p)
		if d.IsDir() && (rel == "Lỗi" || rel == "Chờ mã hồ sơ") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	return left
}

func TestCorpusEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.start()
	start := time.Now()
	rows := readExpected(t)
	for _, r := range rows {
		copyFile(t, filepath.Join(corpus, r.file), filepath.Join(e.inbox, r.file))
	}
	e.waitFor("every sample to leave the inbox", 60*time.Second, func() bool { return len(e.inboxLeft()) == 0 })
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("the upload queue to drain", 30*time.Second, func() bool {
		return e.metric("sohoa_upload_queue_length"+ward) == 0
	})

	out := e.outboxFiles()
	uploaded := 0
	for _, r := range rows {
		errPath := filepath.Join(e.inbox, "Lỗi", r.file)
		waitPath := filepath.Join(e.inbox, "Chờ mã hồ sơ", r.file)
		// Linked by name, or by the receipt's barcode; a batch is split into
		// one upload per dossier.
		linked := r.dossiers != "-" && !strings.Contains(r.dossiers, ",")
		switch {
		case r.verdict == "valid" && strings.Contains(r.dossiers, ","):
			stem := strings.TrimSuffix(r.file, ".pdf")
			for _, code := range strings.Split(r.dossiers, ",") {
				if _, ok := out[code+"/"+stem+" - "+code+".pdf"]; !ok {
					t.Errorf("%s: no part uploaded for %s; outbox: %v", r.file, code, out)
				}
				uploaded++
			}
		case r.verdict == "invalid":
			note, err := os.ReadFile(errPath + ".txt")
			if _, serr := os.Stat(errPath); serr != nil || err != nil {
				t.Errorf("%s: invalid but not in the errors folder with a note", r.file)
				continue
			}
			if !strings.Contains(string(note), "Cần làm:") {
				t.Errorf("%s: note says no action:\n%s", r.file, note)
			}
		case linked:
			p, ok := out[r.dossiers+"/"+r.file]
			if !ok {
				t.Errorf("%s: not uploaded as %s/%s; outbox: %v", r.file, r.dossiers, r.file, out)
				continue
			}
			uploaded++
			if strings.Contains(r.note, "repairable") {
				if fileSHA(t, p) == fileSHA(t, filepath.Join(corpus, r.file)) {
					t.Errorf("%s: the original was uploaded, not the repaired copy", r.file)
				}
				if b, _ := exec.Command(binPath, "check", "--json", p).Output(); !bytes.Contains(b, []byte(`"valid":true`)) || !bytes.Contains(b, []byte(`"repaired":false`)) {
					t.Errorf("%s: uploaded repaired copy does not check clean: %s", r.file, b)
				}
			} else if strings.Contains(r.note, "blank back") {
				// Uploaded without its blank backs: TestDuplexEndToEnd.
				if fileSHA(t, p) == fileSHA(t, filepath.Join(corpus, r.file)) {
					t.Errorf("%s: uploaded with its blank back sides", r.file)
				}
			} else if fileSHA(t, p) != fileSHA(t, filepath.Join(corpus, r.file)) {
				t.Errorf("%s: uploaded content differs from the scan", r.file)
			}
		default:
			// A batch, or no code anywhere: it must wait for a person, never
			// be lost.
			if _, err := os.Stat(waitPath); err != nil {
				t.Errorf("%s: valid but neither uploaded nor waiting: %v", r.file, err)
			}
			if _, err := os.Stat(waitPath + ".txt"); err != nil {
				t.Errorf("%s: waiting without a note", r.file)
			}
		}
	}
	if len(out) != uploaded {
		t.Errorf("outbox has %d files, want %d: %v", len(out), uploaded, out)
	}
	// Each part of a batch counts as a scan of its own.
	scans := len(rows)
	for _, r := range rows {
		if r.verdict == "valid" && strings.Contains(r.dossiers, ",") {
			scans += strings.Count(r.dossiers, ",")
		}
	}
	if got := e.metric("sohoa_scans_total" + ward); got != float64(scans) {
		t.Errorf("sohoa_scans_total = %v, want %d", got, scans)
	}
	if got := e.metric("sohoa_dossiers_digitized_total" + ward); got != float64(uploaded) {
		t.Errorf("sohoa_dossiers_digitized_total = %v, want %d", got, uploaded)
	}
	for reason, want := range map[string]float64{"low_dpi": 1, "encrypted": 1, "unreadable": 1, "empty": 1, "not_pdf": 1} {
		series := fmt.Sprintf(`sohoa_scans_rejected_total{reason=%q,ward="000.00.12.H57"}`, reason)
		if got := e.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Scans without a code wait; IT's alert reads how long the first has.
	waiting, since := 0, e.metric("sohoa_scans_unlinked_oldest_timestamp_seconds"+ward)
	for _, r := range rows {
		if _, err := os.Stat(filepath.Join(e.inbox, "Chờ mã hồ sơ", r.file)); err == nil {
			waiting++
		}
	}
	if got := e.metric("sohoa_scans_unlinked" + ward); waiting == 0 || got < float64(waiting) {
		t.Errorf("sohoa_scans_unlinked = %v with %d samples waiting", got, waiting)
	}
	if secs := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }; since < secs(start) || since > secs(time.Now()) {
		t.Errorf("sohoa_scans_unlinked_oldest_timestamp_seconds = %v, want a time within this test (%v..now)",
			since, secs(start))
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(e.metrics())
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("promtool not installed; CI installs Debian's prometheus package")
	} else {
		t.Log("promtool not installed: metrics lint skipped")
	}
}

type expectedRow struct{ file, verdict, dossiers, note string }

func readExpected(t *testing.T) []expectedRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []expectedRow
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 4 {
			continue
		}
		rows = append(rows, expectedRow{f[0], f[1], f[2], f[3]})
	}
	return rows
}
