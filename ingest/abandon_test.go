package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// A waiting scan whose file staff delete stops counting as unlinked, once
// the file has been missing for the grace period, and counts as waiting
// again when the file is put back. One renamed or moved within the inbox,
// not yet offered again, is never taken for gone.
func TestWaitingScanAbandonedWhenRemoved(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
	f.in.cfg.Now = func() time.Time { return now }
	const grace = time.Minute
	reconcile := func(want int) {
		t.Helper()
		n, err := f.in.Reconcile(context.Background(), grace)
		if err != nil || n != want {
			t.Fatalf("reconcile at %v: %d abandoned, %v; want %d", now.Format(time.TimeOnly), n, err, want)
		}
	}
	counts := func(unlinked, abandoned uint64) {
		t.Helper()
		if s := f.stats(); s.Unlinked != unlinked || s.Abandoned != abandoned {
			t.Errorf("unlinked %d, abandoned %d; want %d, %d", s.Unlinked, s.Abandoned, unlinked, abandoned)
		}
	}

	f.drop("scan_0009.pdf", "scan_0009.pdf")
	if err := f.ingest("scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	waiting := filepath.Join(f.inbox, "Chờ mã hồ sơ", "scan_0009.pdf")
	counts(1, 0)
	reconcile(0) // there: nothing to do

	// Staff move it into a folder of their own; the watcher has not offered
	// it yet (its quiet period, or a busy burst).
	moved := filepath.Join(f.inbox, "tạm", "scan_0009.pdf")
	if err := os.MkdirAll(filepath.Dir(moved), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(waiting, moved); err != nil {
		t.Fatal(err)
	}
	reconcile(0)
	now = now.Add(2 * grace)
	reconcile(0) // missing from its place for long, but a file of its size is in the inbox
	counts(1, 0)
	if err := f.ingest("tạm/scan_0009.pdf"); err != nil { // offered: still no code, back to waiting
		t.Fatal(err)
	}
	if !exists(waiting) {
		t.Fatal("the moved scan is not back in the waiting folder")
	}

	// The waiting folder itself is gone (as on a share that is not mounted):
	// that proves nothing about the scan.
	folder, away := filepath.Dir(waiting), filepath.Join(t.TempDir(), "away")
	if err := os.Rename(folder, away); err != nil {
		t.Fatal(err)
	}
	reconcile(0)
	now = now.Add(2 * grace)
	reconcile(0)
	counts(1, 0)
	if err := os.Rename(away, folder); err != nil {
		t.Fatal(err)
	}

	// Staff delete it.
	if err := os.Remove(waiting); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	reconcile(0) // first seen missing
	now = now.Add(grace - time.Second)
	reconcile(0) // not missing for the grace period yet
	counts(1, 0)
	now = now.Add(time.Second)
	reconcile(1)
	counts(0, 1)
	now = now.Add(grace)
	reconcile(0) // once
	counts(0, 1)
	sha := ""
	f.st.Scans(func(sc store.Scan) bool { sha = sc.SHA256; return false })
	if !exists(f.in.SpoolPath(sha, false)) {
		t.Error("the abandoned scan's spool copy is gone: a file put back could not be uploaded")
	}

	// Put back (from the recycle bin) where it was: waiting again, with its note.
	f.drop("scan_0009.pdf", "Chờ mã hồ sơ/scan_0009.pdf")
	if err := os.Remove(waiting + ".txt"); err != nil {
		t.Fatal(err)
	}
	if err := f.ingest("Chờ mã hồ sơ/scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	counts(1, 0)
	if !exists(waiting) || !exists(waiting+".txt") {
		t.Error("the scan put back is not waiting with its note")
	}
	if s := f.stats(); s.Scans != 1 || s.Duplicates != 0 {
		t.Errorf("stats %+v: the scan put back was counted again", s)
	}
}

// A waiting file that another scan replaced under the same name (saved
// over it, or edited in place) is gone as a file deleted is: the new
// content waits as a scan of its own, and the old one counts as abandoned
// after the grace period, not as unlinked for ever.
func TestWaitingScanReplacedInPlace(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
	f.in.cfg.Now = func() time.Time { return now }
	const grace = time.Minute
	f.drop("scan_0009.pdf", "scan_0009.pdf")
	if err := f.ingest("scan_0009.pdf"); err != nil {
		t.Fatal(err)
	}
	rel := "Chờ mã hồ sơ/scan_0009.pdf"
	f.drop("HS 000.00.12.H57-200320-0002 to khai.pdf", rel) // another scan, saved over it
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.Scans != 2 || s.Unlinked != 2 {
		t.Fatalf("scans %d, unlinked %d; want 2 waiting", s.Scans, s.Unlinked)
	}
	for _, want := range []int{0, 1, 0} {
		n, err := f.in.Reconcile(context.Background(), grace)
		if err != nil || n != want {
			t.Fatalf("reconcile at %v: %d abandoned, %v; want %d", now.Format(time.TimeOnly), n, err, want)
		}
		now = now.Add(grace)
	}
	if s := f.stats(); s.Unlinked != 1 || s.Abandoned != 1 {
		t.Errorf("unlinked %d, abandoned %d; want 1, 1", s.Unlinked, s.Abandoned)
	}
	old, err := os.Stat(filepath.Join(testenv.Corpus(t), "scan_0009.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	f.st.Scans(func(sc store.Scan) bool {
		if replaced := sc.Size == old.Size(); sc.Gone != replaced || sc.State != store.Waiting {
			t.Errorf("scan of %d bytes: %s, abandoned %v; want waiting, abandoned %v", sc.Size, sc.State, sc.Gone, replaced)
		}
		return true
	})
}
