package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

type fixture struct {
	t      testing.TB
	inbox  string
	data   string
	st     *store.Store
	in     *Ingester
	queued int
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, inbox: filepath.Join(dir, "inbox"), data: filepath.Join(dir, "data")}
	if err := os.MkdirAll(f.inbox, 0o750); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(f.data, "sohoa.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	g, _ := dossier.NewGrammar("")
	f.in, err = New(Config{
		Inbox: f.inbox, DataDir: f.data, Errors: "Lỗi", Waiting: "Chờ mã hồ sơ",
		Linker:   &Linker{Grammar: g, Ward: "000.00.12.H57", SkipFolder: "Chờ mã hồ sơ"},
		Checker:  &pdfcheck.Checker{Limits: pdfcheck.Limits{MinDPI: 200, MaxBytes: 30 << 20}},
		Barcodes: &barcode.Reader{Grammar: g},
		Store:    st,
		MaxBytes: 30 << 20,
		Link:     true,
		Queued:   func() { f.queued++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// drop copies a corpus sample into the inbox under rel.
func (f *fixture) drop(sample, rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(f.t), sample))
	if err != nil {
		f.t.Fatal(err)
	}
	p := filepath.Join(f.inbox, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) ingest(rel string) error {
	f.t.Helper()
	p := filepath.Join(f.inbox, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.in.Ingest(context.Background(), p, rel, info)
}

func (f *fixture) stats() store.Stats {
	f.t.Helper()
	s, err := f.st.Stats()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestLinkedScanIsQueuedAndLeavesInbox(t *testing.T) {
	f := newFixture(t)
	name := "000.00.12.H57-200320-0001.pdf"
	p := f.drop(name, "hồ sơ/"+name)
	if err := f.ingest("hồ sơ/" + name); err != nil {
		t.Fatal(err)
	}
	if exists(p) || exists(filepath.Dir(p)) {
		t.Error("the scan (or its emptied folder) is still in the inbox")
	}
	s := f.stats()
	if s.Scans != 1 || s.QueueLength != 1 || f.queued != 1 {
		t.Errorf("stats %+v, queued %d", s, f.queued)
	}
	var sc store.Scan
	f.st.Scans(func(x store.Scan) bool { sc = x; return false })
	if sc.State != store.Queued || sc.Dossiers[0] != "000.00.12.H57-200320-0001" || sc.Pages != 2 {
		t.Errorf("record %+v", sc)
	}
	if !exists(f.in.SpoolPath(sc.SHA256, false)) {
		t.Error("no spool copy of a queued scan")
	}
}

func TestRejectedGoesToErrorsWithVietnameseNote(t *testing.T) {
	f := newFixture(t)
	f.drop("lowres_0001.pdf", "000.00.12.H57-200321-0005.pdf")
	if err := f.ingest("000.00.12.H57-200321-0005.pdf"); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(f.inbox, "Lỗi", "000.00.12.H57-200321-0005.pdf")
	if !exists(moved) {
		t.Fatal("rejected scan not in the errors folder")
	}
	note, err := os.ReadFile(moved + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(note), reason.LowDPI.Vietnamese()) || !strings.Contains(string(note), "200 dpi") {
		t.Errorf("note does not say what is wrong and what to do:\n%s", note)
	}
	s := f.stats()
	if s.Rejected[reason.LowDPI] != 1 || s.QueueLength != 0 {
		t.Errorf("stats %+v", s)
	}
	if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) != 0 {
		t.Errorf("spool keeps %d files of a rejected scan", len(entries))
	}
}

func TestWaitingScanLinksWhenRenamed(t *testing.T) {
	f := newFixture(t)
	f.drop("scan_0009.pdf", "scan_0009.pdf")
	if err := f.ingest("scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	waiting := filepath.Join(f.inbox, "Chờ mã hồ sơ", "scan_0009.pdf")
	if !exists(waiting) || !exists(waiting+".txt") {
		t.Fatal("scan without a code is not waiting with a note")
	}
	if s := f.stats(); s.Unlinked != 1 || s.QueueLength != 0 {
		t.Errorf("stats %+v", s)
	}
	// Offered again unchanged (a restart): still waiting, nothing counted.
	if err := f.ingest("Chờ mã hồ sơ/scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.Unlinked != 1 || s.Duplicates != 0 || s.Scans != 1 {
		t.Errorf("re-offered waiting scan changed stats: %+v", s)
	}
	// Staff rename it to carry the code.
	renamed := filepath.Join(f.inbox, "Chờ mã hồ sơ", "000.00.12.H57-200320-0009.pdf")
	if err := os.Rename(waiting, renamed); err != nil {
		t.Fatal(err)
	}
	if err := f.ingest("Chờ mã hồ sơ/000.00.12.H57-200320-0009.pdf"); err != nil {
		t.Fatal(err)
	}
	if exists(renamed) || exists(waiting+".txt") {
		t.Error("linked scan or its note still in the waiting folder")
	}
	s := f.stats()
	if s.Unlinked != 0 || s.QueueLength != 1 || s.Scans != 1 {
		t.Errorf("stats after linking %+v", s)
	}
}

func TestDuplicateIsRecordedOnce(t *testing.T) {
	f := newFixture(t)
	name := "000.00.12.H57-200320-0001.pdf"
	f.drop(name, name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	p := f.drop(name, "copy "+name)
	if err := f.ingest("copy " + name); err != nil {
		t.Fatal(err)
	}
	if exists(p) {
		t.Error("duplicate left in the inbox")
	}
	s := f.stats()
	if s.Scans != 1 || s.Duplicates != 1 || s.QueueLength != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestInterruptedIngestResumesWithoutDuplicate(t *testing.T) {
	f := newFixture(t)
	name := "000.00.12.H57-200320-0001.pdf"
	p := f.drop(name, name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	// As if the daemon died after the commit, before the inbox file went:
	// the same file at the same place.
	f.drop(name, name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if exists(p) {
		t.Error("resumed file left in the inbox")
	}
	if s := f.stats(); s.Duplicates != 0 || s.Scans != 1 || s.QueueLength != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestSpecialFilesAreMovedNotOpened(t *testing.T) {
	f := newFixture(t)
	fifo := filepath.Join(f.inbox, "scan.pdf")
	if err := syscall.Mkfifo(fifo, 0o640); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.pdf")
	os.WriteFile(outside, []byte("%PDF-1.4 not ours"), 0o600)
	link := filepath.Join(f.inbox, "link.pdf")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- f.ingest("scan.pdf"); done <- f.ingest("link.pdf") }()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("ingest blocked on a FIFO or symlink")
		}
	}
	for _, n := range []string{"scan.pdf", "link.pdf"} {
		info, err := os.Lstat(filepath.Join(f.inbox, "Lỗi", n))
		if err != nil || info.Mode().IsRegular() {
			t.Errorf("%s: not moved to the errors folder as it was: %v", n, err)
		}
	}
	if !exists(outside) {
		t.Error("symlink target outside the inbox was touched")
	}
	if s := f.stats(); s.Rejected[reason.NotRegular] != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestTooLargeIsRejectedWithoutCopy(t *testing.T) {
	f := newFixture(t)
	f.in.cfg.MaxBytes = 1000
	name := "000.00.12.H57-200320-0001.pdf"
	f.drop(name, name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.Rejected[reason.TooLarge] != 1 {
		t.Errorf("stats %+v", s)
	}
	if !exists(filepath.Join(f.inbox, "Lỗi", name)) {
		t.Error("too large file not in the errors folder")
	}
}

// TestChangedBetweenOfferAndCopy: the file the watcher offered is not the
// one found when it is opened: it grew, was deleted, or was replaced by
// another file, a symlink or a FIFO. Nothing is taken or recorded, nothing
// goes to the errors folder, the spool keeps no copy; the file is offered
// again (ErrBusy), and what is there then is taken as usual.
func TestChangedBetweenOfferAndCopy(t *testing.T) {
	name := "000.00.12.H57-200320-0001.pdf"
	for _, tc := range []struct {
		change    string
		do        func(t *testing.T, f *fixture, p string)
		takenNext bool // what is at p afterwards is a scan, taken when offered again
	}{
		{"grew", func(t *testing.T, f *fixture, p string) {
			fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fh.Write([]byte("more"))
			fh.Close()
		}, true},
		{"deleted", func(t *testing.T, f *fixture, p string) { os.Remove(p) }, false},
		{"replaced by another scan", func(t *testing.T, f *fixture, p string) {
			f.drop("HS 000.00.12.H57-200320-0002 to khai.pdf", "other.pdf")
			if err := os.Rename(filepath.Join(f.inbox, "other.pdf"), p); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"replaced by a symlink", func(t *testing.T, f *fixture, p string) {
			os.Remove(p)
			if err := os.Symlink(filepath.Join(testenv.Corpus(t), name), p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"replaced by a FIFO", func(t *testing.T, f *fixture, p string) {
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o640); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.change, func(t *testing.T) {
			f := newFixture(t)
			p := f.drop(name, name)
			info, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			tc.do(t, f, p)
			done := make(chan error, 1)
			go func() { done <- f.in.Ingest(context.Background(), p, name, info) }()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ingest blocked")
			}
			if !errors.Is(err, ErrBusy) {
				t.Fatalf("Ingest = %v, want ErrBusy", err)
			}
			if s := f.stats(); s.Scans != 0 || len(s.Rejected) != 0 {
				t.Errorf("something was recorded: %+v", s)
			}
			if exists(filepath.Join(f.inbox, "Lỗi")) {
				t.Error("something was moved to the errors folder")
			}
			if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) != 0 {
				t.Errorf("the spool keeps %d files", len(entries))
			}
			if !tc.takenNext {
				return
			}
			info, err = os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.in.Ingest(context.Background(), p, name, info); err != nil {
				t.Fatalf("offered again: %v", err)
			}
			if exists(p) || f.stats().Scans != 1 {
				t.Errorf("offered again unchanged, it was not taken: %+v", f.stats())
			}
		})
	}
}

func TestRecoverRemovesTempsAndGivesOrphansBack(t *testing.T) {
	f := newFixture(t)
	spool := filepath.Join(f.data, "spool")
	os.WriteFile(filepath.Join(spool, ".tmp-123"), []byte("half"), 0o640)
	os.WriteFile(filepath.Join(spool, strings.Repeat("ab", 32)+".pdf"), []byte("orphan"), 0o640)
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("spool still has %d files", len(entries))
	}
	if b, _ := os.ReadFile(filepath.Join(f.inbox, "khoi-phuc-abababababababab.pdf")); string(b) != "orphan" {
		t.Errorf("the orphan is not back in the inbox: %q", b)
	}
}

// TestRecoverRemovesUnfinishedNotes: a note whose write a crash cut short
// leaves a hidden temporary file in a staff folder, which nothing else looks
// at; the next start removes it and leaves the notes and files staff see.
func TestRecoverRemovesUnfinishedNotes(t *testing.T) {
	f := newFixture(t)
	keep := []string{"a.pdf", "a.pdf.txt"}
	for _, folder := range []string{"Lỗi", "Chờ mã hồ sơ"} {
		dir := filepath.Join(f.inbox, folder)
		os.MkdirAll(dir, 0o770)
		for _, n := range append([]string{".atomicfile-123.tmp"}, keep...) {
			os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o640)
		}
	}
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, folder := range []string{"Lỗi", "Chờ mã hồ sơ"} {
		entries, _ := os.ReadDir(filepath.Join(f.inbox, folder))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, keep) {
			t.Errorf("%s holds %v after recovery, want %v", folder, names, keep)
		}
	}
}

func TestNFDNameLinks(t *testing.T) {
	f := newFixture(t)
	rel := "Ho\u0302\u0300 so\u031b 000.00.12.H57-200320-0001.pdf"
	f.drop("000.00.12.H57-200320-0001.pdf", rel)
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.QueueLength != 1 {
		t.Errorf("NFD name not linked: %+v", s)
	}
}

func TestReceiptBarcodeLinks(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		sample, rel string
		state       store.State
		reason      reason.Code
		dossiers    []string
	}{
		{"scan_0003.pdf", "scan_0003.pdf", store.Queued, "", []string{"000.00.12.H57-200320-0003"}},
		{"scan_0004.pdf", "scan_0004.pdf", store.Queued, "", []string{"000.00.12.H57-200320-0004"}},
		{"scan_0005.pdf", "scan_0005.pdf", store.Queued, "", []string{"000.00.12.H57-200320-0005"}},
		{"scan_0006.pdf", "scan_0006.pdf", store.Queued, "", []string{"000.00.12.H57-200320-0006"}},
		{"duplex_0001.pdf", "duplex_0001.pdf", store.Queued, "", []string{"000.00.12.H57-200321-0004"}},
		{"batch_0001.pdf", "batch_0001.pdf", store.Split, "",
			[]string{"000.00.12.H57-200321-0001", "000.00.12.H57-200321-0002", "000.00.12.H57-200321-0003"}},
		{"scan_0009.pdf", "scan_0009.pdf", store.Waiting, reason.NoCode, nil},
	}
	for _, tt := range tests {
		f.drop(tt.sample, tt.rel)
		if err := f.ingest(tt.rel); err != nil {
			t.Fatalf("%s: %v", tt.sample, err)
		}
	}
	got := map[string]store.Scan{}
	f.st.Scans(func(sc store.Scan) bool { got[sc.Name] = sc; return true })
	for _, tt := range tests {
		sc := got[tt.rel]
		if sc.State != tt.state || sc.Reason != tt.reason || !slices.Equal(sc.Dossiers, tt.dossiers) {
			t.Errorf("%s: %s %s %q (%s); want %s %s %q", tt.sample, sc.State, sc.Reason, sc.Dossiers, sc.Detail, tt.state, tt.reason, tt.dossiers)
		}
	}
	// The batch went up as one part per dossier, each its receipt and the
	// page behind it; the original is archived.
	batch := got["batch_0001.pdf"]
	if len(batch.Parts) != 3 {
		t.Fatalf("batch parts %q", batch.Parts)
	}
	for i, sha := range batch.Parts {
		part, err := f.st.Scan(sha)
		if err != nil {
			t.Fatal(err)
		}
		if part.State != store.Queued || part.Pages != 2 || part.Batch != batch.SHA256 || part.Dossiers[0] != batch.Dossiers[i] ||
			part.Name != "batch_0001 - "+batch.Dossiers[i]+".pdf" {
			t.Errorf("part %d: %+v", i+1, part)
		}
		if !exists(f.in.SpoolPath(sha, false)) {
			t.Errorf("part %d has no spool copy", i+1)
		}
	}
	if !exists(filepath.Join(f.data, "archive", batch.SHA256+".pdf")) {
		t.Error("the original batch is not kept in the archive")
	}
	if exists(filepath.Join(f.inbox, "batch_0001.pdf")) {
		t.Error("the split batch is still in the inbox")
	}
}

func TestNameAndReceiptDisagree(t *testing.T) {
	f := newFixture(t)
	rel := "000.00.12.H57-200320-0099.pdf"
	f.drop("scan_0003.pdf", rel)
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(f.inbox, "Chờ mã hồ sơ", rel+".txt")) {
		t.Fatal("a scan whose name and receipt disagree is not held with a note")
	}
	if s := f.stats(); s.QueueLength != 0 || s.Unlinked != 1 {
		t.Errorf("stats %+v", s)
	}
	// Offered again unchanged (a restart): the name alone would link it, but
	// the receipt's disagreement still holds it.
	held := "Chờ mã hồ sơ/" + rel
	if err := f.ingest(held); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.QueueLength != 0 || s.Unlinked != 1 {
		t.Fatalf("a held scan was linked by its unchanged name after a restart: %+v", s)
	}
	// A person renames it to the receipt's code: that decides.
	renamed := filepath.Join(f.inbox, "Chờ mã hồ sơ", "000.00.12.H57-200320-0003.pdf")
	if err := os.Rename(filepath.Join(f.inbox, filepath.FromSlash(held)), renamed); err != nil {
		t.Fatal(err)
	}
	if err := f.ingest("Chờ mã hồ sơ/000.00.12.H57-200320-0003.pdf"); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.QueueLength != 1 || s.Unlinked != 0 {
		t.Errorf("renamed by a person, still not queued: %+v", s)
	}
}

// ingestAtOnce ingests the given inbox files concurrently, as the daemon's
// watch workers do, and fails on any error.
func (f *fixture) ingestAtOnce(rels ...string) {
	f.t.Helper()
	errs := make(chan error, len(rels))
	start := make(chan struct{})
	for _, rel := range rels {
		p := filepath.Join(f.inbox, filepath.FromSlash(rel))
		info, err := os.Lstat(p)
		if err != nil {
			f.t.Fatal(err)
		}
		go func() {
			<-start
			errs <- f.in.Ingest(context.Background(), p, rel, info)
		}()
	}
	close(start)
	for range rels {
		if err := <-errs; err != nil {
			f.t.Errorf("ingest: %v", err)
		}
	}
}

func TestConcurrentIngest(t *testing.T) {
	t.Run("same content twice at once is one scan and one duplicate", func(t *testing.T) {
		for range 20 {
			f := newFixture(t)
			name := "000.00.12.H57-200320-0001.pdf"
			f.drop(name, "a/"+name)
			f.drop(name, "b/"+name)
			f.ingestAtOnce("a/"+name, "b/"+name)
			s := f.stats()
			if s.Scans != 1 || s.Duplicates != 1 || s.QueueLength != 1 || f.queued != 1 {
				t.Fatalf("stats %+v, queued %d; want one scan, one duplicate, one upload", s, f.queued)
			}
		}
	})
	t.Run("two rejected files of one name both reach the errors folder", func(t *testing.T) {
		for range 20 {
			f := newFixture(t)
			f.drop("lowres_0001.pdf", "a/scan.pdf")
			f.drop("encrypted 000.00.12.H57-200322-0002.pdf", "b/scan.pdf")
			f.ingestAtOnce("a/scan.pdf", "b/scan.pdf")
			for _, n := range []string{"scan.pdf", "scan (2).pdf"} {
				if !exists(filepath.Join(f.inbox, "Lỗi", n)) || !exists(filepath.Join(f.inbox, "Lỗi", n+".txt")) {
					t.Fatalf("%s or its note missing from the errors folder", n)
				}
			}
			if s := f.stats(); s.Scans != 2 {
				t.Fatalf("stats %+v, want two scans", s)
			}
		}
	})
}

// TestNoteRoom: a name is shortened only when its note (or a numbered
// variant's) would not fit in 255 bytes, at a character boundary, keeping
// its extension.
func TestNoteRoom(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"short", "000.00.12.H57-200320-0001.pdf"},
		{"ASCII, 255 bytes", strings.Repeat("x", 251) + ".pdf"},
		{"Vietnamese, 255 bytes", strings.Repeat("ồ", 83) + "xx.pdf"},
		{"no extension", strings.Repeat("ệ", 85)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := noteRoom(tc.in)
			if len(tc.in) <= 244 && got != tc.in {
				t.Errorf("a name with room was changed: %q", got)
			}
			if !utf8.ValidString(got) || len(got+" (9999).txt") > 255 {
				t.Errorf("noteRoom = %q (%d bytes): invalid or too long", got, len(got))
			}
			if filepath.Ext(got) != filepath.Ext(tc.in) || !strings.HasPrefix(tc.in, strings.TrimSuffix(got, filepath.Ext(got))) {
				t.Errorf("noteRoom = %q: not a shortened %q", got, tc.in)
			}
		})
	}
}
