//go:build linux

package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// duringCheck is the real checker, with something done to the inbox while
// it runs: what a scanner or a person may do at that moment.
type duringCheck struct {
	Checker
	do func()
}

func (c duringCheck) Check(ctx context.Context, src, repaired string) (pdfcheck.Result, error) {
	if c.do != nil {
		c.do()
	}
	return c.Checker.Check(ctx, src, repaired)
}

// sample returns the bytes of a corpus sample.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// saveOver saves data at p as a scanner does: a new file renamed over the
// name.
func saveOver(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p+".part", data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".part", p); err != nil {
		t.Fatal(err)
	}
}

// notesMissing returns the files in the staff folders that have no note
// beside them, and the notes that have no file.
func notesMissing(t testing.TB, f *fixture) (noNote, noFile []string) {
	t.Helper()
	for _, folder := range []string{"Lỗi", "Chờ mã hồ sơ"} {
		entries, _ := os.ReadDir(filepath.Join(f.inbox, folder))
		names := map[string]bool{}
		for _, e := range entries {
			names[e.Name()] = true
		}
		for n := range names {
			switch {
			case strings.HasSuffix(n, ".txt") && !names[strings.TrimSuffix(n, ".txt")]:
				noFile = append(noFile, folder+"/"+n)
			case !strings.HasSuffix(n, ".txt") && !names[n+".txt"]:
				noNote = append(noNote, folder+"/"+n)
			}
		}
	}
	return noNote, noFile
}

// TestScanSavedOverTakenNameStays: a scanner that saves every scan under
// one name saves the next while the last is being taken. Only the file
// taken leaves the inbox: the new one stays where it was saved, for the
// watcher, whatever became of the first (queued, waiting, rejected).
func TestScanSavedOverTakenNameStays(t *testing.T) {
	for _, tc := range []struct{ first, name, place string }{
		{"000.00.12.H57-200320-0001.pdf", "000.00.12.H57-200320-0001.pdf", ""},
		{"scan_0009.pdf", "scan.pdf", "Chờ mã hồ sơ/scan.pdf"},
		{"lowres_0001.pdf", "000.00.12.H57-200321-0005.pdf", "Lỗi/000.00.12.H57-200321-0005.pdf"},
	} {
		t.Run(tc.first, func(t *testing.T) {
			f := newFixture(t)
			p := f.drop(tc.first, tc.name)
			next := sample(t, "scan_0004.pdf")
			f.in.cfg.Checker = duringCheck{f.in.cfg.Checker, func() { saveOver(t, p, next) }}
			if err := f.ingest(tc.name); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, next) {
				t.Fatalf("the scan saved over %s after it was taken is gone or changed (err %v)", tc.name, err)
			}
			sc := f.record()
			if sc.Place != tc.place {
				t.Errorf("first scan placed at %q, want %q", sc.Place, tc.place)
			}
			if tc.place != "" {
				b, err := os.ReadFile(filepath.Join(f.inbox, tc.place))
				if err != nil || !bytes.Equal(b, sample(t, tc.first)) {
					t.Errorf("the first scan's bytes are not at its place for staff (err %v)", err)
				}
			}
			if noNote, noFile := notesMissing(t, f); len(noNote)+len(noFile) > 0 {
				t.Errorf("files without notes %v, notes without files %v", noNote, noFile)
			}
		})
	}
}

// TestHugeFileIsRejectedBySizeUnread: a file over the size cap is judged
// by its size alone: a sparse 64 GiB file is rejected at once, not read
// (hashing it would take minutes), with its note.
func TestHugeFileIsRejectedBySizeUnread(t *testing.T) {
	f := newFixture(t)
	name := "000.00.12.H57-200320-0007.pdf"
	p := filepath.Join(f.inbox, name)
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(64 << 30); err != nil {
		t.Skipf("no sparse file here: %v", err)
	}
	fh.Close()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f.ingest(name) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a file over the size cap is still being read after 10 s")
	}
	t.Logf("rejected in %v", time.Since(start))
	if s := f.stats(); s.Rejected[reason.TooLarge] != 1 || s.QueueLength != 0 {
		t.Errorf("stats %+v", s)
	}
	note, err := os.ReadFile(filepath.Join(f.inbox, "Lỗi", name+".txt"))
	if err != nil || !strings.Contains(string(note), reason.TooLarge.Vietnamese()) ||
		!strings.Contains(string(note), "000.00.12.H57-200320-0007") {
		t.Errorf("no note saying too large for the dossier (err %v):\n%s", err, note)
	}
	if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) != 0 {
		t.Errorf("the spool holds %d files of a rejected file", len(entries))
	}
}

// TestStaffFolderLinkIsMovedAside: whoever may save into the inbox may put
// a link where a staff folder was. Nothing is moved or written through
// it: the link is renamed aside (not followed, not deleted), a real folder
// made, counted, and the scan and its note go there.
func TestStaffFolderLinkIsMovedAside(t *testing.T) {
	for _, kind := range []string{"link out", "link in", "file"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t)
			outside := t.TempDir()
			errorsDir := filepath.Join(f.inbox, "Lỗi")
			switch kind {
			case "link out":
				if err := os.Symlink(outside, errorsDir); err != nil {
					t.Fatal(err)
				}
			case "link in":
				if err := os.Mkdir(filepath.Join(f.inbox, "other"), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("other", errorsDir); err != nil {
					t.Fatal(err)
				}
			case "file":
				if err := os.WriteFile(errorsDir, []byte("x"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			var replaced []string
			f.in.cfg.StaffFolderReplaced = func(folder string) { replaced = append(replaced, folder) }
			name := "000.00.12.H57-200321-0005.pdf"
			f.drop("lowres_0001.pdf", name)
			if err := f.ingest(name); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("%d files written outside the inbox through the link", len(entries))
			}
			if entries, _ := os.ReadDir(filepath.Join(f.inbox, "other")); len(entries) != 0 {
				t.Errorf("%d files written through the link inside the inbox", len(entries))
			}
			fi, err := os.Lstat(errorsDir)
			if err != nil || !fi.IsDir() {
				t.Fatalf("no real errors folder: %v", err)
			}
			if !exists(filepath.Join(errorsDir, name)) || !exists(filepath.Join(errorsDir, name+".txt")) {
				t.Error("the rejected scan and its note are not in the real errors folder")
			}
			aside, _ := filepath.Glob(filepath.Join(f.inbox, "Lỗi (không hợp lệ *)"))
			if len(aside) != 1 {
				t.Fatalf("moved aside: %v", aside)
			}
			if fi, err := os.Lstat(aside[0]); err != nil || fi.IsDir() {
				t.Errorf("what was there is not kept as it was: %v", err)
			}
			if !exists(filepath.Join(errorsDir, filepath.Base(aside[0])+".txt")) {
				t.Error("no note telling staff about the folder moved aside")
			}
			if len(replaced) != 1 || replaced[0] != "Lỗi" {
				t.Errorf("counted %v", replaced)
			}
		})
	}
}

// TestSameContentWaitingUnderTwoNames: the same scan without a code saved
// twice under two names. One copy waits, with its note, and no file in a
// staff folder is ever without its note; renaming the one that waits links
// it.
func TestSameContentWaitingUnderTwoNames(t *testing.T) {
	f := newFixture(t)
	f.drop("scan_0009.pdf", "a.pdf")
	if err := f.ingest("a.pdf"); err != nil {
		t.Fatal(err)
	}
	f.drop("scan_0009.pdf", "b.pdf")
	if err := f.ingest("b.pdf"); err != nil {
		t.Fatal(err)
	}
	if noNote, noFile := notesMissing(t, f); len(noNote)+len(noFile) > 0 {
		t.Errorf("files without notes %v, notes without files %v", noNote, noFile)
	}
	sc := f.record()
	if !exists(filepath.Join(f.inbox, filepath.FromSlash(sc.Place))) {
		t.Fatalf("the waiting scan is not at its place %q", sc.Place)
	}
	// Staff rename every copy in the waiting folder with its code.
	entries, _ := os.ReadDir(filepath.Join(f.inbox, "Chờ mã hồ sơ"))
	for i, e := range entries {
		if strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		rel := "Chờ mã hồ sơ/000.00.12.H57-200320-000" + string(rune('1'+i)) + ".pdf"
		if err := os.Rename(filepath.Join(f.inbox, "Chờ mã hồ sơ", e.Name()), filepath.Join(f.inbox, rel)); err != nil {
			t.Fatal(err)
		}
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	if noNote, noFile := notesMissing(t, f); len(noNote)+len(noFile) > 0 {
		t.Errorf("after renaming: files without notes %v, notes without files %v", noNote, noFile)
	}
	if s := f.stats(); s.QueueLength != 1 || s.Unlinked != 0 {
		t.Errorf("stats %+v", s)
	}
	if sc := f.record(); sc.State != store.Queued {
		t.Errorf("record %+v", sc)
	}
}

// TestSecondCopyLinksWaitingContent: the same scan saved again with its
// code links the copy that waited, which leaves the waiting folder with its
// note.
func TestSecondCopyLinksWaitingContent(t *testing.T) {
	f := newFixture(t)
	f.drop("scan_0009.pdf", "a.pdf")
	if err := f.ingest("a.pdf"); err != nil {
		t.Fatal(err)
	}
	name := "000.00.12.H57-200320-0009.pdf"
	f.drop("scan_0009.pdf", name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(f.inbox, "Chờ mã hồ sơ")); len(entries) != 0 {
		t.Errorf("the waiting folder still holds %d files of a linked scan", len(entries))
	}
	if exists(filepath.Join(f.inbox, name)) {
		t.Error("the linked copy is still in the inbox")
	}
	if sc := f.record(); sc.State != store.Queued || sc.Dossiers[0] != "000.00.12.H57-200320-0009" {
		t.Errorf("record %+v", sc)
	}
}

// TestForeignReceiptHoldStands: a scan without a code in its name whose
// receipt is another agency's waits as foreign; offered again from the
// waiting folder (or renamed there, still without a code) it still waits as
// foreign, and its note does not say that no code was found.
func TestForeignReceiptHoldStands(t *testing.T) {
	f := newFixture(t)
	// scan_0003's receipt is of agency 000.00.12.H57: another agency's
	// for this ward.
	f.in.cfg.Linker.Ward = "000.00.13.H57"
	f.drop("scan_0003.pdf", "scan.pdf")
	if err := f.ingest("scan.pdf"); err != nil {
		t.Fatal(err)
	}
	if sc := f.record(); sc.Reason != reason.ForeignAgency {
		t.Fatalf("held as %q, want foreign_agency: %+v", sc.Reason, sc)
	}
	for _, rel := range []string{"Chờ mã hồ sơ/scan.pdf", "Chờ mã hồ sơ/renamed.pdf"} {
		if rel != "Chờ mã hồ sơ/scan.pdf" {
			if err := os.Rename(filepath.Join(f.inbox, "Chờ mã hồ sơ/scan.pdf"), filepath.Join(f.inbox, rel)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
		sc := f.record()
		if sc.Reason != reason.ForeignAgency || sc.Place != rel {
			t.Errorf("re-checked at %s: %q at %q", rel, sc.Reason, sc.Place)
		}
		note, err := os.ReadFile(filepath.Join(f.inbox, rel+".txt"))
		if err != nil || strings.Contains(string(note), reason.NoCode.Vietnamese()) ||
			!strings.Contains(string(note), reason.ForeignAgency.Vietnamese()) {
			t.Errorf("note at %s (err %v):\n%s", rel, err, note)
		}
	}
}

// readNote returns the note beside rel, in the inbox.
func (f *fixture) readNote(rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.inbox, filepath.FromSlash(rel)) + ".txt")
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// TestNotesSayWhatStaffNeed: the waiting note's example code is the
// ward's own; the low-dpi note gives the dpi measured and the dossier; the
// errors folder's note says what becomes of the file once the dossier is
// scanned again.
func TestNotesSayWhatStaffNeed(t *testing.T) {
	f := newFixture(t)
	f.in.cfg.Linker.Ward = "000.00.13.H57"
	f.drop("scan_0009.pdf", "scan.pdf")
	if err := f.ingest("scan.pdf"); err != nil {
		t.Fatal(err)
	}
	if note := f.readNote("Chờ mã hồ sơ/scan.pdf"); !strings.Contains(note, "(ví dụ 000.00.13.H57-") || strings.Contains(note, "000.00.12.H57") {
		t.Errorf("the waiting note's example is not the ward's own code:\n%s", note)
	}
	f = newFixture(t)
	name := "000.00.12.H57-200321-0005.pdf"
	f.drop("lowres_0001.pdf", name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	sc := f.record()
	note := f.readNote("Lỗi/" + name)
	for _, want := range []string{fmt.Sprintf("Độ phân giải đo được: %.0f dpi", sc.MinDPI), "000.00.12.H57-200321-0005", reason.AfterRescan(true)} {
		if sc.MinDPI == 0 || !strings.Contains(note, want) {
			t.Errorf("the low-dpi note does not say %q:\n%s", want, note)
		}
	}
}

// TestRescanClearsErrorsFolder: once a later scan of a dossier is
// uploaded, its rejected files leave the errors folder for the archive,
// with their notes; others stay. A note whose file a person deleted goes;
// a .txt file of a person's own stays.
func TestRescanClearsErrorsFolder(t *testing.T) {
	f := newFixture(t)
	bad := "000.00.12.H57-200321-0005.pdf"
	f.drop("lowres_0001.pdf", bad)
	if err := f.ingest(bad); err != nil {
		t.Fatal(err)
	}
	f.in.cfg.MaxBytes = 100 << 10 // this one is rejected for its size, unrecorded
	other := "000.00.12.H57-200321-0006.pdf"
	f.drop("000.00.12.H57-200320-0001.pdf", other)
	if err := f.ingest(other); err != nil {
		t.Fatal(err)
	}
	f.in.cfg.MaxBytes = 30 << 20
	again := "000.00.12.H57-200321-0005 quét lại.pdf"
	f.drop("scan_0009.pdf", again)
	if err := f.ingest(again); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := f.st.Jobs(time.Now().Add(time.Hour), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs %v, err %v", jobs, err)
	}
	if err := f.st.Done(jobs[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Archive(jobs[0].SHA256); err != nil {
		t.Fatal(err)
	}
	errorsDir := filepath.Join(f.inbox, "Lỗi")
	if exists(filepath.Join(errorsDir, bad)) || exists(filepath.Join(errorsDir, bad+".txt")) {
		t.Error("the rejected scan of a dossier scanned again is still in the errors folder")
	}
	archived := filepath.Join(f.data, "archive", "rejected", bad)
	if !exists(archived) || !exists(archived+".txt") {
		t.Error("the rejected scan and its note are not in the archive")
	}
	if !exists(filepath.Join(errorsDir, other)) || !exists(filepath.Join(errorsDir, other+".txt")) {
		t.Error("another dossier's rejected file left the errors folder")
	}
	// A person deletes the other file, and leaves a note of their own.
	if err := os.Remove(filepath.Join(errorsDir, other)); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(errorsDir, "ghi chú.txt")
	if err := os.WriteFile(own, []byte("của tôi"), 0o640); err != nil {
		t.Fatal(err)
	}
	if n, _, err := f.in.TidyNotes(); err != nil || n != 1 {
		t.Errorf("removed %d notes, err %v", n, err)
	}
	if exists(filepath.Join(errorsDir, other+".txt")) || !exists(own) {
		t.Error("the orphan note stays, or a person's own file went")
	}
	// Pruning counts the archived file's retention from when it was moved.
	if n, err := f.in.Prune(context.Background(), time.Hour); err != nil || n != 0 || !exists(archived) {
		t.Errorf("pruned %d, err %v, archived there %v", n, err, exists(archived))
	}
	f.in.cfg.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := f.in.Prune(context.Background(), time.Hour); err != nil || exists(archived) || exists(archived+".txt") {
		t.Errorf("err %v; archived rejected file still there after its retention", err)
	}
}
