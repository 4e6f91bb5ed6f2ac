package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/hostilepdf"
	"github.com/sohoa/sohoa/ingest/reason"
)

// daemonRSSCap is the most resident memory the daemon's own process may
// reach (VmHWM) while hostile files go through it: the parsing happens in
// the parser process, capped by check.parser_memory on its own.
const daemonRSSCap = 64 << 20

// TestHostileEndToEnd drops every hostile file, each followed by a healthy
// scan, plus one that outgrows the parser's CPU time, into the inbox of the
// real daemon: each hostile file gets its verdict (uploaded, or in the
// errors folder with its reason's note), every healthy scan is uploaded,
// the daemon lives on, and its own peak RSS stays under daemonRSSCap.
func TestHostileEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  dir: {path: %q}
check: {parser_cpu: 1s, parser_memory: 512MiB, timeout: 30s}
`, e.outbox))
	e.start()

	type drop struct {
		name, reason string
	}
	var drops []drop
	write := func(name string, b []byte, want string) {
		t.Helper()
		// Written beside the inbox and moved in whole, as a scanner's rename.
		tmp := filepath.Join(e.dir, name)
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(e.inbox, name)); err != nil {
			t.Fatal(err)
		}
		drops = append(drops, drop{name, want})
	}
	cases := hostilepdf.Cases()
	for i, c := range cases {
		write(fmt.Sprintf("000.00.12.H57-201001-%04d.pdf", i+1), c.File(), c.Reason)
		write(fmt.Sprintf("000.00.12.H57-201002-%04d.pdf", i+1), hostilepdf.Healthy(i), "")
	}
	// About 5 s of CPU to read: over parser_cpu.
	write("000.00.12.H57-201001-9999.pdf", hostilepdf.ManyPages(100_000), string(reason.ParserLimit))
	write("000.00.12.H57-201002-9999.pdf", hostilepdf.Healthy(9999), "")

	e.waitFor("every file to leave the inbox", 3*time.Minute, func() bool { return len(e.inboxLeft()) == 0 })
	if e.cmd.ProcessState != nil {
		t.Fatalf("the daemon exited: %v", e.cmd.ProcessState)
	}
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("the upload queue to drain", time.Minute, func() bool { return e.metric("sohoa_upload_queue_length"+ward) == 0 })

	out := e.outboxFiles()
	for _, d := range drops {
		code := strings.TrimSuffix(d.name, ".pdf")
		if d.reason == "" {
			if _, ok := out[code+"/"+d.name]; !ok {
				t.Errorf("%s: valid but not uploaded", d.name)
			}
			continue
		}
		note, err := os.ReadFile(filepath.Join(e.inbox, "Lỗi", d.name+".txt"))
		if err != nil {
			t.Errorf("%s: no note in the errors folder: %v", d.name, err)
			continue
		}
		if want := reason.Code(d.reason).Vietnamese(); !strings.Contains(string(note), want) {
			t.Errorf("%s: note does not say %q:\n%s", d.name, want, note)
		}
	}
	if n := e.metric(`sohoa_scans_rejected_total{reason="parser_limit",ward="000.00.12.H57"}`); n != 1 {
		t.Errorf("parser_limit rejections: %v, want 1", n)
	}
	if n := e.metric("sohoa_scans_total" + ward); n != float64(len(drops)) {
		t.Errorf("scans taken: %v, want %d", n, len(drops))
	}

	pid := e.cmd.Process.Pid
	hwm := statusBytes(t, pid, "VmHWM:")
	if hwm <= 0 || hwm > daemonRSSCap {
		t.Errorf("daemon peak RSS %d MiB, want above 0 and at most %d MiB", hwm>>20, daemonRSSCap>>20)
	}
	for _, child := range children(pid) {
		t.Logf("parser process %d: peak RSS %d MiB", child, statusBytes(t, child, "VmHWM:")>>20)
	}
	t.Logf("%d files; daemon peak RSS %d MiB", len(drops), hwm>>20)
}

// statusBytes reads a "Key: N kB" line of /proc/<pid>/status in bytes.
func statusBytes(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return n << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// children lists a process's child processes.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestCheckFlags: `sohoa check --json` names what a file carries that a
// scanner never writes, through the parser process, and still judges it
// by the usual rules; and a file over the parser's limits gets
// parser_limit from `sohoa check` as from the daemon.
func TestCheckFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sohoa.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "inbox: %q\ncheck: {parser_cpu: 1s}\n", dir), 0o600); err != nil { // a file's inbox must exist
		t.Fatal(err)
	}
	want := map[string]checkResult{}
	var args []string
	for i, c := range hostilepdf.Cases() {
		if len(c.Flags) == 0 {
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("000.00.12.H57-201001-%04d.pdf", i+1))
		if err := os.WriteFile(f, c.File(), 0o600); err != nil {
			t.Fatal(err)
		}
		want[f] = checkResult{Valid: true, Flags: c.Flags}
		args = append(args, f)
	}
	big := filepath.Join(dir, "000.00.12.H57-201001-9999.pdf")
	if err := os.WriteFile(big, hostilepdf.ManyPages(100_000), 0o600); err != nil {
		t.Fatal(err)
	}
	want[big] = checkResult{Reason: reason.ParserLimit, Flags: []string{}}
	args = append(args, big)

	out, err := exec.Command(binPath, append([]string{"check", "-config", cfg, "--json"}, args...)...).Output()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1 (one file is invalid): %v", code, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(args) {
		t.Fatalf("%d lines for %d files:\n%s", len(lines), len(args), out)
	}
	for _, l := range lines {
		var got checkResult
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		w := want[got.File]
		if got.Valid != w.Valid || got.Reason != w.Reason || !slices.Equal(got.Flags, w.Flags) {
			t.Errorf("%s: valid %v reason %q flags %q, want %v %q %q", filepath.Base(got.File), got.Valid, got.Reason, got.Flags, w.Valid, w.Reason, w.Flags)
		}
	}
}
