package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pages"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// newBlankFixture is newFixture with blank back sides dropped, as the
// daemon runs by default: the check finds them in its own parse.
func newBlankFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.in.cfg.Checker.(*pdfcheck.Checker).Blanks = &barcode.BlankFinder{}
	return f
}

// pageCount reads how many pages a PDF has.
func pageCount(t *testing.T, p string) int {
	t.Helper()
	pp, err := (&barcode.Reader{}).ReadFirst(context.Background(), p, -1)
	if err != nil {
		t.Fatal(err)
	}
	return len(pp)
}

// queuedCodes returns the dossiers of the queued uploads, sorted.
func queuedCodes(t *testing.T, st *store.Store) []string {
	t.Helper()
	due, _, err := st.Jobs(time.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, j := range due {
		codes = append(codes, j.Dossier)
	}
	slices.Sort(codes)
	return codes
}

func onlyJob(t *testing.T, st *store.Store) store.Job {
	t.Helper()
	due, _, err := st.Jobs(time.Now().Add(time.Hour), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("jobs %+v, %v; want one", due, err)
	}
	return due[0]
}

func TestDuplexScanUploadsItsCopyWithoutBlankBacks(t *testing.T) {
	f := newBlankFixture(t)
	name := "000.00.12.H57-200321-0004.pdf"
	f.drop("duplex_0001.pdf", name)
	sha, _, _ := hashFile(filepath.Join(f.inbox, name))
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	sc, err := f.st.Scan(sha)
	if err != nil {
		t.Fatal(err)
	}
	if sc.State != store.Queued || sc.BlankDropped != 2 || !sc.Trimmed || sc.Pages != 5 {
		t.Fatalf("scan %+v", sc)
	}
	j := onlyJob(t, f.st)
	if j.Content != sc.TrimmedSHA256 || j.Pages != 3 || f.in.ContentPath(j) != f.in.TrimmedPath(sha) {
		t.Errorf("job %+v delivers %s", j, f.in.ContentPath(j))
	}
	if got, _, _ := hashFile(f.in.ContentPath(j)); got != j.Content {
		t.Error("the delivered file is not the recorded trimmed copy")
	}
	if n := pageCount(t, f.in.ContentPath(j)); n != 3 {
		t.Errorf("uploaded copy has %d pages, want 3", n)
	}
	// The original is kept whole, and both go to the archive after upload.
	if got, _, _ := hashFile(f.in.SpoolPath(sha, false)); got != sha {
		t.Error("the original spool copy changed")
	}
	if err := f.in.Archive(sha); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{sha + ".pdf", sha + ".trimmed.pdf"} {
		if !exists(filepath.Join(f.data, "archive", n)) {
			t.Errorf("%s not archived", n)
		}
	}
}

func TestBlankPagesAreKeptWhenTurnedOff(t *testing.T) {
	f := newFixture(t) // its checker does not look for blank pages: pages.drop_blank false
	name := "000.00.12.H57-200321-0004.pdf"
	f.drop("duplex_0001.pdf", name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if j := onlyJob(t, f.st); j.Trimmed || j.Pages != 5 || j.Content != j.SHA256 {
		t.Errorf("job %+v", j)
	}
}

// TestCrashAfterTrimmedCopyBeforeRecord: the daemon died after writing the
// copy without blank pages (and maybe during it), before the record. At the
// next start Recover removes the copies sohoa made and keeps the one as
// saved; the inbox file, still there, is taken again, and one upload is
// queued.
func TestCrashAfterTrimmedCopyBeforeRecord(t *testing.T) {
	f := newBlankFixture(t)
	name := "000.00.12.H57-200321-0004.pdf"
	f.drop("duplex_0001.pdf", name)
	sha, _, _ := hashFile(filepath.Join(f.inbox, name))
	// What the dead ingest left: the spool copy, the trimmed copy, and a
	// temporary file of a second write.
	spool := filepath.Join(f.data, "spool")
	copyTo := func(dst string) {
		b, _ := os.ReadFile(filepath.Join(testenv.Corpus(t), "duplex_0001.pdf"))
		if err := os.WriteFile(dst, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	copyTo(f.in.SpoolPath(sha, false))
	if err := pages.Extract(context.Background(), f.in.SpoolPath(sha, false), f.in.TrimmedPath(sha), []int{1, 2, 4}); err != nil {
		t.Fatal(err)
	}
	copyTo(filepath.Join(spool, ".atomicfile-123.tmp"))
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The inbox file whose take was cut short holds the same bytes: every
	// spool copy goes, the trimmed and temporary ones too.
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Fatalf("spool keeps %v after Recover", entries)
	}
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	// Died again after the record, before the inbox file went: resumed.
	f.drop("duplex_0001.pdf", name)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	j := onlyJob(t, f.st)
	if !j.Trimmed || j.Pages != 3 {
		t.Errorf("job %+v", j)
	}
	if s := f.stats(); s.Scans != 1 || s.Duplicates != 0 || s.QueueLength != 1 {
		t.Errorf("stats %+v", s)
	}
	if got, _, _ := hashFile(f.in.ContentPath(j)); got != j.Content {
		t.Error("the trimmed copy on disk is not the recorded one")
	}
}

func TestDroppable(t *testing.T) {
	receipt := []barcode.Page{{Index: 1, Codes: []barcode.Found{{Code: "X"}}}, {Index: 2}}
	for _, tc := range []struct {
		name  string
		n     int
		blank []int
		read  []barcode.Page
		want  []int
	}{
		{"blank backs", 5, []int{3, 5}, nil, []int{3, 5}},
		{"never every page", 2, []int{1, 2}, nil, nil},
		{"never a receipt", 3, []int{1, 3}, receipt, []int{3}},
		{"out of range", 3, []int{0, 4}, nil, nil},
	} {
		if got := droppable(tc.n, tc.blank, tc.read); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// leadingBatch writes a batch whose first page belongs to no receipt: the
// sample batch without its first receipt (pages 2-6: a content page, then
// the receipts of two dossiers with a page each).
func leadingBatch(t *testing.T, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := pages.Extract(context.Background(), filepath.Join(testenv.Corpus(t), "batch_0001.pdf"), dst, []int{2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
}

func TestPagesBeforeTheFirstReceiptWaitWhileTheRestIsUploaded(t *testing.T) {
	f := newBlankFixture(t)
	leadingBatch(t, filepath.Join(f.inbox, "gộp.pdf"))
	if err := f.ingest("gộp.pdf"); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(f.inbox, "gộp.pdf")) {
		t.Error("the batch is still in the inbox")
	}
	if codes := queuedCodes(t, f.st); !slices.Equal(codes, []string{"000.00.12.H57-200321-0002", "000.00.12.H57-200321-0003"}) {
		t.Errorf("queued %v", codes)
	}
	waiting := filepath.Join(f.inbox, "Chờ mã hồ sơ")
	// Made as every staff folder is, for clerks to rename in whatever the umask.
	if fi, err := os.Stat(waiting); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != staffDirMode {
		t.Errorf("waiting folder made with mode %o, want %o", fi.Mode().Perm(), staffDirMode)
	}
	held := filepath.Join(waiting, "gộp"+heldSuffix+".pdf")
	if n := pageCount(t, held); n != 1 {
		t.Errorf("held part has %d pages, want 1", n)
	}
	note, err := os.ReadFile(held + ".txt")
	if err != nil || len(note) == 0 {
		t.Fatalf("no note beside the held part: %v", err)
	}
	heldSHA, _, _ := hashFile(held)
	sc, err := f.st.Scan(heldSHA)
	if err != nil || sc.State != store.Waiting || sc.Reason != reason.BeforeReceipt || !sc.Settled || sc.Batch == "" {
		t.Fatalf("held part %+v, %v", sc, err)
	}
	if s := f.stats(); s.Unlinked != 1 || s.QueueLength != 2 {
		t.Errorf("stats %+v", s)
	}
	// The watcher offers the placed copy: it stays as it is.
	rel := "Chờ mã hồ sơ/gộp" + heldSuffix + ".pdf"
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.Unlinked != 1 || s.Duplicates != 0 || !exists(held) {
		t.Errorf("after the copy was offered: stats %+v", s)
	}
	// A crash between the split's record and the placing: Recover places it.
	os.Remove(held)
	os.Remove(held + ".txt")
	if err := f.st.Hold(heldSHA, sc.Reason, sc.Detail, sc.Name, sc.Source); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !exists(held) || !exists(held+".txt") {
		t.Fatal("Recover did not place the held part")
	}
	// Staff name the dossier: it is uploaded.
	code := "000.00.12.H57-200321-0001"
	if err := os.Rename(held, filepath.Join(waiting, code+".pdf")); err != nil {
		t.Fatal(err)
	}
	if err := f.ingest("Chờ mã hồ sơ/" + code + ".pdf"); err != nil {
		t.Fatal(err)
	}
	if sc, _ := f.st.Scan(heldSHA); sc.State != store.Queued || !slices.Equal(sc.Dossiers, []string{code}) {
		t.Errorf("renamed held part %+v", sc)
	}
	if exists(held + ".txt") {
		t.Error("the note stayed after the part was linked")
	}
}

func TestDropReceipts(t *testing.T) {
	f := newBlankFixture(t)
	f.in.cfg.DropReceipts = true
	// A dossier scanned behind its receipt: the receipt page is not uploaded.
	f.drop("scan_0003.pdf", "scan_0003.pdf")
	if err := f.ingest("scan_0003.pdf"); err != nil {
		t.Fatal(err)
	}
	j := onlyJob(t, f.st)
	sc, err := f.st.Scan(j.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Trimmed || sc.ReceiptsDropped != 1 || j.Pages != sc.Pages-1 || pageCount(t, f.in.ContentPath(j)) != sc.Pages-1 {
		t.Errorf("receipt-first scan of %d pages: job %+v, receipts dropped %d, uploaded copy %d pages",
			sc.Pages, j, sc.ReceiptsDropped, pageCount(t, f.in.ContentPath(j)))
	}

	// A batch: each part is uploaded without the receipt that opens it.
	g := newBlankFixture(t)
	g.in.cfg.DropReceipts = true
	g.drop("batch_0001.pdf", "batch_0001.pdf")
	if err := g.ingest("batch_0001.pdf"); err != nil {
		t.Fatal(err)
	}
	due, _, err := g.st.Jobs(time.Now().Add(time.Hour), 100)
	if err != nil || len(due) != 3 {
		t.Fatalf("batch jobs: %d, %v", len(due), err)
	}
	for _, j := range due {
		if n := pageCount(t, g.in.ContentPath(j)); n != 1 || j.Pages != 1 {
			t.Errorf("part %s: %d pages uploaded (job says %d), want 1: the page behind its receipt", j.Dossier, n, j.Pages)
		}
	}
}
