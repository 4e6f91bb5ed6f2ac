package ingest

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestNamedBatchIsSplit: a batch saved under its first dossier's code opens
// with that dossier's receipt, so it is read whole and split at its other
// receipts; saved under a code none of its receipts opens with, it is held.
func TestNamedBatchIsSplit(t *testing.T) {
	all := []string{"000.00.12.H57-200321-0001", "000.00.12.H57-200321-0002", "000.00.12.H57-200321-0003"}
	for _, tc := range []struct {
		name   string
		queued []string
		hold   reason.Code
	}{
		{"000.00.12.H57-200321-0001.pdf", all, ""},
		{"000.00.12.H57-200321-0009.pdf", nil, reason.CodeConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.drop("batch_0001.pdf", tc.name)
			if err := f.ingest(tc.name); err != nil {
				t.Fatal(err)
			}
			if codes := queuedCodes(t, f.st); !slices.Equal(codes, tc.queued) {
				t.Errorf("queued %v, want %v", codes, tc.queued)
			}
			var held []store.Scan
			f.st.Scans(func(sc store.Scan) bool {
				if sc.State == store.Waiting {
					held = append(held, sc)
				}
				return true
			})
			if tc.hold == "" && len(held) != 0 || tc.hold != "" && (len(held) != 1 || held[0].Reason != tc.hold) {
				t.Errorf("held %+v, want reason %q", held, tc.hold)
			}
		})
	}
}

// TestDuplexBatchPartsLeaveOutBlankBacks: a batch scanned duplex is cut
// into parts without their blank backs; the receipts stay, and the counts
// are recorded per part and for the batch.
func TestDuplexBatchPartsLeaveOutBlankBacks(t *testing.T) {
	mkscan := testenv.Mkscan(t)
	f := newBlankFixture(t)
	const a, b = "000.00.12.H57-200327-0001", "000.00.12.H57-200327-0002"
	out := filepath.Join(f.inbox, "scan_0100.pdf")
	cmd := exec.Command("bash", mkscan, "--separator", a, "--separator", b,
		"--pages", "1", "--blank-backs", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkscan.sh: %v\n%s", err, b)
	}
	batchSHA, _, _ := hashFile(out)
	if err := f.ingest("scan_0100.pdf"); err != nil {
		t.Fatal(err)
	}
	batch, err := f.st.Scan(batchSHA)
	if err != nil || batch.State != store.Split || batch.BlankDropped != 2 || len(batch.Parts) != 2 {
		t.Fatalf("batch %+v, %v", batch, err)
	}
	for _, sha := range batch.Parts {
		part, _ := f.st.Scan(sha)
		// receipt, content page; its blank back left out
		if part.Pages != 2 || part.BlankDropped != 1 || pageCount(t, f.in.SpoolPath(sha, false)) != 2 {
			t.Errorf("part %+v", part)
		}
	}
	if codes := queuedCodes(t, f.st); !slices.Equal(codes, []string{a, b}) {
		t.Errorf("queued %v", codes)
	}
}
