package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/pages"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// checkJSON runs `sohoa check --json` on files and returns its results by file.
func checkJSON(t *testing.T, files ...string) map[string]checkResult {
	t.Helper()
	out, err := exec.Command(binPath, append([]string{"check", "--json"}, files...)...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("sohoa check: %v", err)
	}
	res := map[string]checkResult{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r checkResult
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("sohoa check --json: %v\n%s", err, out)
		}
		res[r.File] = r
	}
	return res
}

// TestDuplexEndToEnd: duplex scans are uploaded without their blank backs,
// the data dir's archive keeps the originals, and sohoa check says how many
// pages are dropped. One is the corpus sample (grey JPEG, named), one a black
// and white G4 scan made by mkscan.sh and linked by its receipt.
func TestDuplexEndToEnd(t *testing.T) {
	bw := filepath.Join(t.TempDir(), "scan_duplex.pdf")
	mkscan(t, bw, "--cover", "000.00.12.H57-200325-0002", "--pages", "2", "--blank-backs", "--mode", "bw", "--dpi", "300")
	e := newEnv(t)
	e.start()
	scans := []struct {
		src, name, code string
		pages, dropped  int
	}{
		{filepath.Join(testenv.Corpus(t), "duplex_0001.pdf"), "000.00.12.H57-200321-0004.pdf", "000.00.12.H57-200321-0004", 5, 2},
		{bw, "scan_duplex.pdf", "000.00.12.H57-200325-0002", 5, 2},
	}
	for _, s := range scans {
		got := checkJSON(t, s.src)[s.src]
		if !got.Valid || got.Pages != s.pages || got.BlankDropped != s.dropped {
			t.Errorf("sohoa check %s: %+v, want %d pages, %d blank dropped", s.name, got, s.pages, s.dropped)
		}
		copyFile(t, s.src, filepath.Join(e.inbox, s.name))
	}
	e.waitFor("both duplex scans in the outbox", 60*time.Second, func() bool { return len(e.outboxFiles()) == 2 })
	out := e.outboxFiles()
	e.stop()
	for _, s := range scans {
		p, ok := out[s.code+"/"+s.name]
		if !ok {
			t.Errorf("%s not uploaded as %s; outbox %v", s.name, s.code, out)
			continue
		}
		if got := checkJSON(t, p)[p]; !got.Valid || got.Pages != s.pages-s.dropped || got.BlankDropped != 0 {
			t.Errorf("uploaded %s: %+v, want %d pages and none blank", s.name, got, s.pages-s.dropped)
		}
		orig := fileSHA(t, s.src)
		if _, err := os.Stat(filepath.Join(e.data, "archive", orig+".pdf")); err != nil {
			t.Errorf("%s: the original is not in the archive: %v", s.name, err)
		}
	}
	if log := e.fullLog(); strings.Count(log, `msg="pages left out of the upload"`) != 2 {
		t.Errorf("want two log lines for the dropped pages; log:\n%s", log)
	}
}

// TestKillDuringDuplexBurstLeavesNoOrphan kills the daemon (SIGKILL) the
// moment it logs that it found a scan's blank pages, three times: it is then
// writing the copy without them, which takes tens of milliseconds, and has
// not recorded the scan. Every scan is uploaded
// once, without its blank backs, and the spool is empty at the end: a copy
// written before a kill and never recorded is removed at the next start,
// its inbox file still holding the same bytes to be taken again.
func TestKillDuringDuplexBurstLeavesNoOrphan(t *testing.T) {
	e := newEnv(t)
	var proc atomic.Pointer[os.Process]
	var armed atomic.Bool
	killed := make(chan struct{}, 1)
	e.onLine = func(line string) {
		if strings.Contains(line, `msg="looked for blank pages"`) && armed.CompareAndSwap(true, false) {
			proc.Load().Kill()
			killed <- struct{}{}
		}
	}
	start := func() {
		e.start()
		proc.Store(e.cmd.Process)
		armed.Store(true)
	}
	start()
	const n = 12
	want := map[string]bool{}
	for i := 1; i <= n; i++ {
		// Unnamed: linked by the receipt's QR, so every page is read too.
		name := fmt.Sprintf("duplex-%02d.pdf", i)
		variant(t, "duplex_0001.pdf", filepath.Join(e.inbox, name), i)
		want["000.00.12.H57-200321-0004/"+name] = true
	}
	for cycle := 0; cycle < 3; cycle++ {
		select {
		case <-killed:
		case <-time.After(60 * time.Second):
			t.Fatalf("no scan trimmed in 60s; log:\n%s", e.logText())
		}
		e.kill()
		start()
	}
	armed.Store(false)
	e.waitFor("all duplex scans in the outbox", 90*time.Second, func() bool { return len(e.outboxFiles()) >= n })
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("the queue to drain", 30*time.Second, func() bool { return e.metric("sohoa_upload_queue_length"+ward) == 0 })
	if v := e.metric("sohoa_uploads_total" + ward); v != n {
		t.Errorf("sohoa_uploads_total = %v, want %d (an upload twice?)", v, n)
	}
	if v := e.metric("sohoa_scans_duplicate_total" + ward); v != 0 {
		t.Errorf("a resumed scan counted as a duplicate: %v", v)
	}
	got := e.outboxFiles()
	// Each kill came before the record: the next start found the spool
	// copies of a scan it had not recorded (and maybe the copy without
	// blank pages, or its temporary file) of a file still in the inbox,
	// and removed them.
	if recovered := strings.Count(e.fullLog(), `msg="spool recovered"`); recovered == 0 {
		t.Error("no kill came between writing the copy and the record")
	} else {
		t.Logf("starts that found unrecorded spool files: %d of 3", recovered)
	}
	e.stop()
	if len(got) != n {
		t.Errorf("outbox has %d files, want %d", len(got), n)
	}
	var files []string
	for rel, p := range got {
		if !want[rel] {
			t.Errorf("unexpected delivery %s", rel)
		}
		files = append(files, p)
	}
	for p, r := range checkJSON(t, files...) {
		if !r.Valid || r.Pages != 3 {
			t.Errorf("%s: %d pages (valid %v), want 3", p, r.Pages, r.Valid)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(e.data, "spool")); len(entries) != 0 {
		var names []string
		for _, d := range entries {
			names = append(names, d.Name())
		}
		t.Errorf("spool keeps %v after every scan was uploaded", names)
	}
	// The archive holds each original and its trimmed copy, nothing else.
	if entries, _ := os.ReadDir(filepath.Join(e.data, "archive")); len(entries) != 2*n {
		t.Errorf("archive has %d files, want %d", len(entries), 2*n)
	}
}

// mkscan runs testdata/mkscan.sh; under CI a missing tool fails.
func mkscan(t *testing.T, out string, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append(append([]string{testenv.Mkscan(t)}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkscan.sh: %v\n%s", err, b)
	}
}

// fullLog returns everything the daemon logged in this test.
func (e *env) fullLog() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.log.String()
}

// TestBatchWithPagesBeforeItsFirstReceiptEndToEnd: the receipts' parts are
// uploaded, and the page before the first receipt waits in the staff folder
// with a note, as sohoa check announced.
func TestBatchWithPagesBeforeItsFirstReceiptEndToEnd(t *testing.T) {
	src := filepath.Join(t.TempDir(), "gộp.pdf")
	// The sample batch without its first receipt: a page of the first
	// dossier, then the receipts of the second and third with a page each.
	if err := pages.Extract(context.Background(), filepath.Join(testenv.Corpus(t), "batch_0001.pdf"), src, []int{2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if got := checkJSON(t, src)[src]; !got.Valid || got.Parts != 2 || !slices.Equal(got.HeldPages, []int{1}) {
		t.Errorf("sohoa check: %+v, want 2 parts and page 1 held", got)
	}
	e := newEnv(t)
	e.start()
	copyFile(t, src, filepath.Join(e.inbox, "gộp.pdf"))
	held := filepath.Join(e.inbox, "Chờ mã hồ sơ", "gộp - trang trước phiếu tiếp nhận.pdf")
	e.waitFor("two parts uploaded and the first page waiting", 60*time.Second, func() bool {
		_, err := os.Stat(held + ".txt")
		return len(e.outboxFiles()) == 2 && err == nil
	})
	for _, code := range []string{"000.00.12.H57-200321-0002", "000.00.12.H57-200321-0003"} {
		if _, ok := e.outboxFiles()[code+"/gộp - "+code+".pdf"]; !ok {
			t.Errorf("no part uploaded for %s: %v", code, e.outboxFiles())
		}
	}
	if got := checkJSON(t, held)[held]; !got.Valid || got.Pages != 1 || got.Hold != "no_code" {
		t.Errorf("held part: %+v", got)
	}
	if note, _ := os.ReadFile(held + ".txt"); !strings.Contains(string(note), "trước phiếu tiếp nhận") {
		t.Errorf("note does not say why:\n%s", note)
	}
	// Staff name its dossier: it is uploaded too.
	code := "000.00.12.H57-200321-0001"
	if err := os.Rename(held, filepath.Join(e.inbox, "Chờ mã hồ sơ", code+".pdf")); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the renamed part uploaded", 30*time.Second, func() bool {
		_, ok := e.outboxFiles()[code+"/"+code+".pdf"]
		return ok
	})
	if _, err := os.Stat(held + ".txt"); err == nil {
		t.Error("the note stayed after the part was uploaded")
	}
}
