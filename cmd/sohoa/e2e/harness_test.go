// Package e2e tests the real sohoa binary: the end-to-end, fault and crash
// tests run it, as a daemon on temporary folders or as a command, and look
// only at what it leaves (files, logs, metrics, its database after it
// exits). This file is their harness: the binary, built once per run, and
// one daemon's folders, config, start and stop.
package e2e

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

	"github.com/sohoa/sohoa/ingest/reason"
)

// binPath is the sohoa binary TestMain builds for every test of the run.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sohoa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "sohoa")
	out, err := exec.Command("go", "build", "-o", binPath, "github.com/sohoa/sohoa/cmd/sohoa").CombinedOutput()
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
	// workDir is the daemon's working directory; "": the test's.
	workDir string
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
	if !regexp.MustCompile(`(?m)^ui:`).MatchString(rest) {
		// The counter's page stays off unless a test asks for it: many
		// daemons run at once, and its default port is one.
		cfg += "ui: {listen: \"\"}\n"
	}
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// envSeed returns the seed a randomized test replays from the variable
// name, or a new one.
func envSeed(t *testing.T, name string) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// fastWatch makes the daemon take files and rescan quickly (quiet 50ms,
// rescan 500ms) and log at level, for the tests that drive many files
// through it in a second.
func (e *env) fastWatch(level string) {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "watch: {quiet: 300ms, rescan: 1s}", "watch: {quiet: 50ms, rescan: 500ms}", 1)
	cfg = strings.Replace(cfg, "log_level: debug", "log_level: "+level, 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

var readyLine = regexp.MustCompile(`msg="sohoa ready" metrics=(https?://\S+)/metrics`)

// start runs the daemon and waits until it serves.
func (e *env) start() {
	e.t.Helper()
	e.cmd = exec.Command(binPath, "run", "-config", e.config)
	e.cmd.Dir = e.workDir
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

// inboxLeft lists the files left in the inbox outside the staff folders,
// less the daemon's lock file (.sohoa.lock), which stays.
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
		if !d.IsDir() && rel != ".sohoa.lock" {
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	return left
}

// checkResult is one line of `sohoa check --json`, as a script reads it:
// the fields these tests look at.
type checkResult struct {
	File         string      `json:"file"`
	Valid        bool        `json:"valid"`
	Reason       reason.Code `json:"reason"`
	Detail       string      `json:"detail"`
	Message      string      `json:"message_vi"`
	Dossiers     []string    `json:"dossiers"`
	Parts        int         `json:"parts"`
	Hold         reason.Code `json:"hold"`
	Pages        int         `json:"pages"`
	MinDPI       float64     `json:"min_dpi"`
	Flags        []string    `json:"flags"`
	BlankDropped int         `json:"blank_pages_dropped"`
	HeldPages    []int       `json:"held_pages"`
}
