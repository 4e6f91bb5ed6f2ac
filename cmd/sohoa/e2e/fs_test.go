package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// File-system faults under the data dir, on a small tmpfs mounted there:
// it fills up, and it turns read-only, as a failing disk is remounted.

// mounts needs root, to mount under the data dir: CI runs as root, so there
// a non-root run fails; elsewhere it skips. It returns a function that runs
// mount and fails the test if it fails.
func mounts(t *testing.T) func(args ...string) {
	t.Helper()
	testenv.NeedRoot(t, "mounting")
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

// TestHostileNamesAndFiles drops what a Linux user (or a broken scanner
// driver) can put in the inbox beside what staff drop from Windows; the
// existing hostile-inbox test covers FIFOs, symlinks (to files, folders,
// loops), unreadable and growing files. Each gets its outcome, with its
// reason:
//   - a name that is not UTF-8, one with a newline, one of 255 bytes (the
//     longest Linux allows, so its note's name would be too long): taken like
//     any other scan: uploaded when they carry a code, waiting with a note
//     when they do not, and not taken again and again at every rescan;
//   - a socket and a device node: never opened, moved to the errors folder
//     (not a regular file);
//   - a hard link to a file outside the inbox: taken as a copy would be
//     (fs.protected_hardlinks lets a user link only what they may read and
//     write), and the file outside is left as it was.
func TestHostileNamesAndFiles(t *testing.T) {
	e := newEnv(t)
	sample := "000.00.12.H57-200320-0001.pdf"
	code := func(n int) string { return fmt.Sprintf("000.00.12.H57-200329-%04d", n) }
	long := func(stem string) string { return stem + strings.Repeat("x", 255-len(stem)-len(".pdf")) + ".pdf" }
	uploads := map[string]string{ // name in the inbox -> dossier
		"\xff\xfe " + code(1) + ".pdf":  code(1),
		"dòng\nmới " + code(2) + ".pdf": code(2),
		long(code(3) + " "):             code(3),
	}
	waits := []string{"\xff\xfe scan.pdf", "dòng\nmới scan.pdf", long("scan ")}
	n := 0
	put := func(sample, name string) { // renamed in: a 255-byte name has no room for variant's temporary prefix
		n++
		staged := filepath.Join(e.dir, fmt.Sprintf("staged-%d.pdf", n))
		variant(t, sample, staged, 100+n)
		if err := os.Rename(staged, filepath.Join(e.inbox, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name := range uploads {
		put(sample, name)
	}
	for _, name := range waits {
		put("scan_0009.pdf", name)
	}
	outside := filepath.Join(t.TempDir(), "outside.pdf")
	variant(t, sample, outside, 200)
	outsideSHA := fileSHA(t, outside)
	if err := os.Link(outside, filepath.Join(e.inbox, code(4)+".pdf")); err != nil {
		t.Fatal(err)
	}
	uploads[code(4)+".pdf"] = code(4)
	ln, err := net.Listen("unix", filepath.Join(e.inbox, "socket.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	special := []string{"socket.pdf"}
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(e.inbox, "null.pdf"), syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		special = append(special, "null.pdf")
	} else if testenv.CI() {
		t.Fatal("making a device node needs root, which CI has")
	}
	e.start()

	e.waitFor("the scans with a code uploaded", 60*time.Second, func() bool { return len(e.outboxFiles()) == len(uploads) })
	out := e.outboxFiles()
	for name, dossier := range uploads {
		found := false
		for rel := range out {
			found = found || strings.HasPrefix(rel, dossier+"/")
		}
		if !found {
			t.Errorf("%q not uploaded to %s; outbox: %q", name, dossier, out)
		}
	}
	waiting := filepath.Join(e.inbox, "Chờ mã hồ sơ")
	errs := filepath.Join(e.inbox, "Lỗi")
	e.waitFor("the scans without a code waiting and the special files rejected", 30*time.Second, func() bool {
		w, _ := os.ReadDir(waiting)
		r, _ := os.ReadDir(errs)
		return len(w) == 2*len(waits) && len(r) == 2*len(special)
	})
	notes := map[string]time.Time{}
	for _, dir := range []string{waiting, errs} {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			if !utf8.ValidString(ent.Name()) {
				t.Errorf("%q in a staff folder: staff cannot see or rename a name that is not UTF-8", ent.Name())
			}
			if strings.HasSuffix(ent.Name(), ".txt") {
				info, _ := ent.Info()
				notes[filepath.Join(dir, ent.Name())] = info.ModTime()
			}
		}
	}
	if len(notes) != len(waits)+len(special) {
		t.Errorf("%d notes for %d waiting scans and %d special files", len(notes), len(waits), len(special))
	}
	if got := fileSHA(t, outside); got != outsideSHA {
		t.Error("the file outside the inbox that a hard link pointed to was changed")
	}
	// Two rescans later nothing was taken again: the notes are as they were.
	time.Sleep(2500 * time.Millisecond)
	for p, mtime := range notes {
		if info, err := os.Stat(p); err != nil || !info.ModTime().Equal(mtime) {
			t.Errorf("note %q rewritten or gone after rescans (%v)", p, err)
		}
	}
	if left := e.inboxLeft(); len(left) > 0 {
		t.Errorf("left in the inbox: %q", left)
	}
	if code, err := httpGet(e.metricsURL + "/readyz"); code != 200 {
		t.Errorf("readyz: %d %v", code, err)
	}
}
