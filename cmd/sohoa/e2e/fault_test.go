package e2e

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// variant writes a distinct, still valid copy of a sample: a PDF comment
// after the end marker changes the content hash and nothing else.
func variant(t *testing.T, sample, dst string, n int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(t), sample))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, fmt.Sprintf("%%sohoa-test variant %d\n", n)...)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dst), ".writing-"+filepath.Base(dst))
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func TestSlowWriteIsNotTakenHalfWritten(t *testing.T) {
	e := newEnv(t)
	// A quiet period above the scanner's pauses, as in production (5s).
	b, _ := os.ReadFile(e.config)
	os.WriteFile(e.config, []byte(strings.Replace(string(b), "quiet: 300ms", "quiet: 2s", 1)), 0o600)
	e.start()
	src, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	name := "000.00.12.H57-200320-0001.pdf"
	f, err := os.Create(filepath.Join(e.inbox, name))
	if err != nil {
		t.Fatal(err)
	}
	chunk := len(src)/10 + 1
	for i := 0; i < len(src); i += chunk {
		f.Write(src[i:min(i+chunk, len(src))])
		time.Sleep(500 * time.Millisecond)
	}
	f.Close()
	e.waitFor("the slowly written scan to be uploaded", 30*time.Second, func() bool {
		_, ok := e.outboxFiles()["000.00.12.H57-200320-0001/"+name]
		return ok
	})
	if got := fileSHA(t, filepath.Join(e.outbox, "000.00.12.H57-200320-0001", name)); got != fileSHA(t, filepath.Join(testenv.Corpus(t), name)) {
		t.Error("uploaded content is not the whole file")
	}
	if entries, _ := os.ReadDir(filepath.Join(e.inbox, "Lỗi")); len(entries) > 0 {
		t.Errorf("a half-written file was rejected: %d entries in the errors folder", len(entries))
	}
}

func TestKillDuringBurstUploadsEachScanOnce(t *testing.T) {
	e := newEnv(t)
	e.start()
	const n = 50
	want := map[string]string{} // outbox path -> sha
	for i := 1; i <= n; i++ {
		code := fmt.Sprintf("000.00.12.H57-200323-%04d", i)
		name := code + ".pdf"
		variant(t, "HS 000.00.12.H57-200320-0002 to khai.pdf", filepath.Join(e.inbox, name), i)
		want[code+"/"+name] = fileSHA(t, filepath.Join(e.inbox, name))
	}
	// Kill it three times at different moments of the burst.
	rng := rand.New(rand.NewPCG(1, 2))
	for cycle := 0; cycle < 3; cycle++ {
		time.Sleep(time.Duration(200+rng.IntN(1200)) * time.Millisecond)
		e.kill()
		e.start()
	}
	e.waitFor("all 50 scans in the outbox", 90*time.Second, func() bool { return len(e.outboxFiles()) >= n })
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("the queue to drain", 30*time.Second, func() bool { return e.metric("sohoa_upload_queue_length"+ward) == 0 })
	got := e.outboxFiles()
	if len(got) != n {
		t.Errorf("outbox has %d files, want %d", len(got), n)
	}
	for rel, sha := range want {
		p, ok := got[rel]
		if !ok {
			t.Errorf("%s missing from the outbox", rel)
			continue
		}
		if fileSHA(t, p) != sha {
			t.Errorf("%s: content differs", rel)
		}
	}
	if left := e.inboxLeft(); len(left) > 0 {
		t.Errorf("left in the inbox: %v", left)
	}
	if v := e.metric("sohoa_uploads_total" + ward); v != n {
		t.Errorf("sohoa_uploads_total = %v, want %d (an upload recorded twice?)", v, n)
	}
	if v := e.metric("sohoa_scans_total" + ward); v != n {
		t.Errorf("sohoa_scans_total = %v, want %d", v, n)
	}
	if v := e.metric("sohoa_scans_duplicate_total" + ward); v != 0 {
		t.Errorf("a resumed scan counted as a duplicate: %v", v)
	}
	// The spool holds nothing once everything is uploaded, and the outbox no
	// partial file: those left by a kill are removed at the next start.
	e.stop()
	filepath.WalkDir(e.outbox, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("partial file left in the outbox: %s", p)
		}
		return nil
	})
	if entries, _ := os.ReadDir(filepath.Join(e.data, "spool")); len(entries) != 0 {
		t.Errorf("spool keeps %d files after every scan was uploaded", len(entries))
	}
}

// TestHostileInboxDoesNotStall drops what users drop by mistake beside real
// scans; each gets a reason or is waited for, and the scans still flow. As
// root it runs the daemon as nobody, as systemd runs it unprivileged.
func TestHostileInboxDoesNotStall(t *testing.T) {
	e := newEnv(t)
	unprivileged := os.Geteuid() == 0
	if unprivileged {
		for _, d := range []string{filepath.Dir(e.dir), e.dir, e.inbox, e.outbox, filepath.Dir(binPath)} {
			os.Chmod(d, 0o777)
		}
		os.Chmod(e.config, 0o644)
	}
	outside := filepath.Join(t.TempDir(), "outside.pdf")
	copyFile(t, filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf"), outside)

	if err := syscall.Mkfifo(filepath.Join(e.inbox, "fifo.pdf"), 0o666); err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(e.inbox, "000.00.12.H57-200324-0001.pdf"))
	os.Symlink(filepath.Dir(outside), filepath.Join(e.inbox, "linkdir"))
	os.Symlink("loop", filepath.Join(e.inbox, "loop"))
	variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, "x.pdf", "000.00.12.H57-200324-0002.pdf"), 2)
	unreadable := filepath.Join(e.inbox, "000.00.12.H57-200324-0003.pdf")
	variant(t, "000.00.12.H57-200320-0001.pdf", unreadable, 3)
	os.Chmod(unreadable, 0o000)
	growing := filepath.Join(e.inbox, "growing.pdf")
	stopGrowing := make(chan struct{})
	grown := make(chan struct{})
	go func() {
		defer close(grown)
		f, _ := os.Create(growing)
		defer f.Close()
		for {
			select {
			case <-stopGrowing:
				return
			case <-time.After(100 * time.Millisecond):
				f.Write([]byte("%PDF-1.4 still scanning\n"))
			}
		}
	}()
	defer func() {
		select {
		case <-stopGrowing:
		default:
			close(stopGrowing)
		}
	}()

	if unprivileged {
		e.startAs(65534, 65534)
	} else {
		e.start()
	}
	// Healthy scans dropped between the hostile ones still flow.
	for i := 4; i <= 6; i++ {
		variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, fmt.Sprintf("000.00.12.H57-200324-%04d.pdf", i)), i)
	}
	e.waitFor("the healthy scans to be uploaded", 60*time.Second, func() bool {
		out := e.outboxFiles()
		for i := 4; i <= 6; i++ {
			code := fmt.Sprintf("000.00.12.H57-200324-%04d", i)
			if _, ok := out[code+"/"+code+".pdf"]; !ok {
				return false
			}
		}
		_, ok := out["000.00.12.H57-200324-0002/000.00.12.H57-200324-0002.pdf"]
		return ok
	})
	if _, err := os.Stat(growing); err != nil {
		t.Error("a file that keeps growing was taken")
	}
	close(stopGrowing)
	<-grown

	errs := filepath.Join(e.inbox, "Lỗi")
	e.waitFor("special files and the finished growing file in the errors folder", 30*time.Second, func() bool {
		for _, n := range []string{"fifo.pdf", "000.00.12.H57-200324-0001.pdf", "growing.pdf", "loop", "linkdir"} {
			if _, err := os.Lstat(filepath.Join(errs, n)); err != nil {
				return false
			}
		}
		return true
	})
	if _, err := os.Stat(outside); err != nil {
		t.Error("the symlink's target outside the inbox was moved or removed")
	}
	if unprivileged {
		// Unreadable to the daemon: a reason for staff, not a stall.
		if _, err := os.Lstat(filepath.Join(errs, "000.00.12.H57-200324-0003.pdf.txt")); err != nil {
			t.Error("unreadable file has no note in the errors folder")
		}
	}
	// The daemon is still healthy.
	if resp, err := httpGet(e.metricsURL + "/readyz"); err != nil || resp != 200 {
		t.Errorf("readyz after hostile input: %v %v", resp, err)
	}
}

func (e *env) startAs(uid, gid uint32) {
	e.t.Helper()
	e.credential = &syscall.Credential{Uid: uid, Gid: gid}
	e.start()
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
