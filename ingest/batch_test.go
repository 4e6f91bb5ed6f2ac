package ingest

import (
	"slices"
	"testing"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
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
