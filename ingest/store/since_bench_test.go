package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/reason"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkUnlinkedSince: a scrape's search for the longest-waiting scan,
// one waiting among a ward's years of uploaded ones, after the database
// changed (a sweep) and when it has not (the cached answer).
func BenchmarkUnlinkedSince(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "s.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 50000
	for i := 0; i < n; i += 1000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for j := i; j < i+1000; j++ {
				sc := Scan{SHA256: fmt.Sprintf("%064x", j), Size: 3 << 20, Name: fmt.Sprintf("000.00.12.H57-200320-%04d.pdf", j%10000),
					Source: "000.00.12.H57-200320-0001.pdf", State: Uploaded, Dossiers: []string{"000.00.12.H57-200320-0001"},
					Pages: 5, MinDPI: 200, Seen: t0, Uploaded: t0, Settled: true}
				if err := putJSON(tx, bScans, []byte(sc.SHA256), sc); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Record(Scan{SHA256: sha('w'), Size: 10, State: Waiting, Reason: reason.NoCode, Seen: t0}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		fresh bool
	}{{"changed", true}, {"unchanged", false}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if bc.fresh {
					s.unlinked.put(-1, "", time.Time{}) // as after a commit
				}
				if since, err := s.UnlinkedSince(); err != nil || !since.Equal(t0) {
					b.Fatalf("%v, %v", since, err)
				}
			}
		})
	}
}
