package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

// File-system faults under the data dir, on a small tmpfs mounted there:
// it fills up, and it turns read-only, as a failing disk is remounted.

// mounts needs root, to mount under the data dir: CI runs as root, so there
// a non-root run fails; elsewhere it skips. It returns a function that runs
// mount and fails the test if it fails.
func mounts(t *testing.T) func(args ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("mounting needs root, which CI has")
		}
		t.Skip("mounting needs root")
	}
	return func(args ...string) {
		t.Helper()
		if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
			t.Fatalf("mount %v: %v\n%s", args, err, out)
		}
	}
}

// onDataDir mounts on e's data dir and unmounts it when the test ends,
// after the daemon stopped (it holds the database open).
func onDataDir(t *testing.T, e *env, args ...string) {
	t.Helper()
	mount := mounts(t)
	if err := os.MkdirAll(e.data, 0o750); err != nil {
		t.Fatal(err)
	}
	mount(append(args, e.data)...)
	t.Cleanup(func() {
		e.stop()
		exec.Command("umount", e.data).Run() // already gone if the test unmounted it
	})
}

// logged waits until the daemon's log contains s.
func (e *env) logged(what, s string) {
	e.t.Helper()
	e.waitFor(what, 30*time.Second, func() bool {
		e.logMu.Lock()
		defer e.logMu.Unlock()
		return strings.Contains(e.log.String(), s)
	})
}

// checkStore opens the stopped daemon's database and runs bbolt's check.
func (e *env) checkStore() {
	e.t.Helper()
	st, err := store.Open(filepath.Join(e.data, "sohoa.db"), 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		e.t.Errorf("database check: %v", err)
	}
}

// TestDiskFullWhileCopying: the data dir has no room for the scan. It
// stays in the inbox, nothing half-written stays in the spool or is
// recorded, the daemon keeps serving, and the scan is taken once there is
// room again.
func TestDiskFullWhileCopying(t *testing.T) {
	e := newEnv(t)
	onDataDir(t, e, "-t", "tmpfs", "-o", "size=512k,mode=0750", "tmpfs") // the scan is 667 KB
	e.start()
	code := "000.00.12.H57-200328-0001"
	scan := filepath.Join(e.inbox, code+".pdf")
	variant(t, "000.00.12.H57-200320-0001.pdf", scan, 1)
	want := fileSHA(t, scan)
	e.logged("a warning that the copy failed for want of space", "level=WARN msg=\"cannot take the file now; it stays in the inbox and is tried again at the next rescan\" component=ingest file="+code+".pdf err=\"copy ")
	e.logged("the reason in it", "no space left on device")
	time.Sleep(2500 * time.Millisecond) // two rescans: offered again, failed again
	if _, err := os.Stat(scan); err != nil {
		t.Fatalf("the scan left the inbox while the disk was full: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.data, "spool")); len(entries) != 0 {
		t.Errorf("the spool keeps %d files from the failed copies: %v", len(entries), entries)
	}
	ward := `{ward="000.00.12.H57"}`
	if n := e.metric("sohoa_scans_total" + ward); n != 0 {
		t.Errorf("sohoa_scans_total = %v while nothing could be taken", n)
	}
	if code, err := httpGet(e.metricsURL + "/readyz"); code != 200 {
		t.Errorf("readyz with a full disk: %d %v", code, err)
	}

	mounts(t)("-o", "remount,size=16m", e.data)
	e.waitFor("the scan uploaded once there is room", 30*time.Second, func() bool {
		_, ok := e.outboxFiles()[code+"/"+code+".pdf"]
		return ok
	})
	if got := fileSHA(t, filepath.Join(e.outbox, code, code+".pdf")); got != want {
		t.Error("the uploaded content is not the scan")
	}
	if n := e.metric("sohoa_scans_total" + ward); n != 1 {
		t.Errorf("sohoa_scans_total = %v, want 1", n)
	}
	e.stop()
	e.checkStore()
}

// TestReadOnlyDataDir: the data dir turns read-only under the running
// daemon (a read-only bind mount over it: a file system cannot be remounted
// read-only while the daemon has its database open for writing). New scans
// wait in the inbox while the daemon keeps running and says why; a restart
// in that state fails at once with the reason, touching nothing; once the
// data dir is writable again, everything flows.
func TestReadOnlyDataDir(t *testing.T) {
	e := newEnv(t)
	mount := mounts(t)
	e.start()
	codes := []string{"000.00.12.H57-200328-0011", "000.00.12.H57-200328-0012"}
	variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, codes[0]+".pdf"), 11)
	e.waitFor("the first scan uploaded", 30*time.Second, func() bool { return len(e.outboxFiles()) == 1 })

	onDataDir(t, e, "--bind", e.data)
	mount("-o", "remount,bind,ro", e.data)
	second := filepath.Join(e.inbox, codes[1]+".pdf")
	variant(t, "000.00.12.H57-200320-0001.pdf", second, 12)
	e.logged("a warning that the scan cannot be taken", "level=WARN msg=\"cannot take the file now; it stays in the inbox and is tried again at the next rescan\" component=ingest file="+codes[1]+".pdf err=\"spool: ")
	e.logged("the reason in it", "read-only file system")
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(second); err != nil {
		t.Fatalf("the scan left the inbox while the data dir was read-only: %v", err)
	}
	if code, err := httpGet(e.metricsURL + "/readyz"); code != 200 {
		t.Errorf("readyz: %d %v", code, err)
	}
	e.stop()

	// Restarted while read-only: a clear failure, not a half start.
	cmd := exec.Command(binPath, "run", "-config", e.config)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the daemon kept running on a read-only data dir:\n%s", out)
	}
	if exitCode(err) != 1 || !strings.Contains(string(out), "read-only file system") {
		t.Errorf("start on a read-only data dir: exit %d, want 1 with the reason; output:\n%s", exitCode(err), out)
	}
	if _, err := os.Stat(second); err != nil {
		t.Fatalf("the failed start moved the scan: %v", err)
	}

	if out, err := exec.Command("umount", e.data).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v\n%s", err, out)
	}
	e.start()
	e.waitFor("the second scan uploaded", 30*time.Second, func() bool { return len(e.outboxFiles()) == 2 })
	e.stop()
	e.checkStore()
}
