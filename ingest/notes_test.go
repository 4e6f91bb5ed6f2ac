package ingest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestTidyNotesWritesDeletedNotesAgain: a person deletes the note of a
// file that waits for a code, and of one in Lỗi; the sweep writes both
// again (every file in a staff folder has its note), leaves a person's own
// file without a record alone, and removes the note of a file a person
// deleted.
func TestTidyNotesWritesDeletedNotesAgain(t *testing.T) {
	f := newFixture(t)
	for rel, sample := range map[string]string{
		"scan.pdf":                      "scan_0009.pdf",   // no code: waits
		"000.00.12.H57-200321-0005.pdf": "lowres_0001.pdf", // rejected: low dpi
	} {
		f.drop(sample, rel)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	waiting := filepath.Join(f.inbox, "Chờ mã hồ sơ", "scan.pdf")
	rejected := filepath.Join(f.inbox, "Lỗi", "000.00.12.H57-200321-0005.pdf")
	for _, p := range []string{waiting, rejected} {
		if err := os.Remove(p + ".txt"); err != nil {
			t.Fatal(err)
		}
	}
	own := filepath.Join(f.inbox, "Lỗi", "của tôi.pdf")
	if err := os.WriteFile(own, []byte("%PDF-1.4 của tôi"), 0o640); err != nil {
		t.Fatal(err)
	}
	removed, restored, err := f.in.TidyNotes()
	if err != nil || removed != 0 || restored != 2 {
		t.Fatalf("removed %d, restored %d, err %v; want 0, 2", removed, restored, err)
	}
	for _, p := range []string{waiting, rejected} {
		if b, err := os.ReadFile(p + ".txt"); err != nil || len(b) < len(noteHead) || string(b[:len(noteHead)]) != noteHead {
			t.Errorf("%s: no note written again (%v)", p, err)
		}
	}
	if exists(own + ".txt") {
		t.Error("a note was made for a file sohoa never recorded")
	}
	// The person now deletes the waiting file: its note goes at the next sweep.
	if err := os.Remove(waiting); err != nil {
		t.Fatal(err)
	}
	if removed, restored, err := f.in.TidyNotes(); err != nil || removed != 1 || restored != 0 || exists(waiting+".txt") {
		t.Errorf("removed %d, restored %d, err %v, note still there %v", removed, restored, err, exists(waiting+".txt"))
	}
}

// TestRecoverFollowsNoStaffFolderLink: at start, Recover removes the
// unfinished notes (atomicfile temporaries) in the staff folders; a staff
// folder that a person replaced by a link to a folder outside the inbox is
// not followed, and what is there stays.
func TestRecoverFollowsNoStaffFolderLink(t *testing.T) {
	f := newFixture(t)
	outside := t.TempDir()
	victim := filepath.Join(outside, ".atomicfile-123.tmp")
	if err := os.WriteFile(victim, []byte("not sohoa's"), 0o640); err != nil {
		t.Fatal(err)
	}
	errorsDir := filepath.Join(f.inbox, "Lỗi")
	os.RemoveAll(errorsDir)
	if err := os.Symlink(outside, errorsDir); err != nil {
		t.Fatal(err)
	}
	waitingTemp := filepath.Join(f.inbox, "Chờ mã hồ sơ", ".atomicfile-456.tmp")
	if err := os.MkdirAll(filepath.Dir(waitingTemp), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(waitingTemp, []byte("half a note"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !exists(victim) {
		t.Error("Recover followed the staff folder's link out of the inbox and removed a file there")
	}
	if exists(waitingTemp) {
		t.Error("an unfinished note in a real staff folder was left")
	}
}
