package store

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sohoa/sohoa/ingest/reason"
)

// TestOldLayoutIsMigrated: a database written by a version that kept one
// upload mark per scan opens with one mark per pair (dossier, content): a
// scan's dossiers with no job left were uploaded, the others not; the jobs
// it had queued or parked keep the content's SHA-256 as their idempotency
// key; jobs queued afterwards get the pair's.
func TestOldLayoutIsMigrated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sohoa.db")
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	// The old layout, as the older version wrote it: JSON records in the
	// five buckets, no layout mark.
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bScans, bQueue, bDossiers, bCounters, bParked} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		key := func(sha string) []byte { // as enqueue made them
			n, _ := tx.Bucket(bQueue).NextSequence()
			return append(binary.BigEndian.AppendUint64(nil, n), sha...)
		}
		puts := []struct {
			bucket, key []byte
			v           string
		}{
			{bScans, []byte(sha('a')), `{"sha256":"` + sha('a') + `","state":"uploaded","dossiers":["D1"],"seen":"2020-03-20T08:00:00Z","uploaded":"` + t1.Format(time.RFC3339) + `"}`},
			{bScans, []byte(sha('b')), `{"sha256":"` + sha('b') + `","state":"queued","dossiers":["D1","D2"],"seen":"2020-03-20T08:00:00Z","pending":1}`},
			{bScans, []byte(sha('c')), `{"sha256":"` + sha('c') + `","state":"queued","dossiers":["D3"],"seen":"2020-03-20T08:00:00Z","pending":1}`},
			{bDossiers, []byte("D1"), `{"code":"D1","first_seen":"2020-03-20T08:00:00Z","digitized":"` + t2.Format(time.RFC3339) + `","scans":2}`},
			{bQueue, key(sha('b')), `{"sha256":"` + sha('b') + `","dossier":"D2","content":"` + sha('b') + `","enqueued":"2020-03-20T08:00:00Z"}`},
			{bParked, key(sha('c')), `{"sha256":"` + sha('c') + `","dossier":"D3","content":"` + sha('c') + `","enqueued":"2020-03-20T08:00:00Z","status":400}`},
		}
		for _, x := range puts {
			if err := tx.Bucket(x.bucket).Put(x.key, []byte(x.v)); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(p, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Scan(sha('a'))
	b, _ := s.Scan(sha('b'))
	c, _ := s.Scan(sha('c'))
	if len(a.UploadedTo) != 1 || !a.UploadedTo["D1"].Equal(t1) {
		t.Errorf("uploaded scan: %v", a.UploadedTo)
	}
	if len(b.UploadedTo) != 1 || !b.UploadedTo["D1"].Equal(t2) {
		t.Errorf("scan half uploaded: %v, want D1 (at its dossier's upload) only", b.UploadedTo)
	}
	if c.UploadedTo != nil {
		t.Errorf("parked scan: %v", c.UploadedTo)
	}
	due, _, _ := s.Jobs(t0.Add(24*time.Hour), 10)
	parked, _ := s.Parked()
	if len(due) != 1 || !due[0].ContentKey || len(parked) != 1 || !parked[0].ContentKey {
		t.Errorf("old jobs: queued %+v, parked %+v; want their key kept", due, parked)
	}
	// The content of a, saved for D2: a new job, with the pair's key.
	if added, err := s.AddDossier(sha('a'), "D2", "a.pdf", "D2/a.pdf", false, t2); err != nil || !added {
		t.Fatal(added, err)
	}
	s.Close()
	s, err = Open(p, time.Second) // migrated once only
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	due, _, _ = s.Jobs(t0.Add(24*time.Hour), 10)
	if len(due) != 2 || due[1].SHA256 != sha('a') || due[1].ContentKey || !due[0].ContentKey {
		t.Errorf("jobs after a reopen %+v", due)
	}
	if err := s.Done(due[1], t2); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Scan(sha('a')); a.State != Uploaded || len(a.UploadedTo) != 2 || !a.UploadedTo["D1"].Equal(t1) {
		t.Errorf("after D2's upload: %+v", a)
	}
}

// TestRejudgedVerdictIsReplaced: a rejection that depends on the settings,
// or a parser death before the last try, is replaced by the verdict of the
// content taken again; the same verdict again counts as a duplicate; any
// other record is kept.
func TestRejudgedVerdictIsReplaced(t *testing.T) {
	s, _ := open(t)
	must := fatalIf(t)
	rej := func(c byte, r reason.Code, tries int) Scan {
		return Scan{SHA256: sha(c), Name: "x.pdf", State: Rejected, Reason: r, ParserTries: tries,
			Dossiers: []string{"D" + string(c)}, Seen: t0}
	}
	must(s.Record(rej('a', reason.LowDPI, 0)))
	must(s.Record(rej('b', reason.ParserLimit, MaxParserTries)))
	must(s.Record(rej('c', reason.Encrypted, 0)))
	must(s.Record(rej('a', reason.LowDPI, 0))) // the same verdict under the same settings
	must(s.Record(Scan{SHA256: sha('a'), Name: "x.pdf", State: Queued, Dossiers: []string{"Da"}, Seen: t0}))
	for _, c := range []byte("bc") {
		if err := s.Record(Scan{SHA256: sha(c), State: Queued, Dossiers: []string{"D"}, Seen: t0}); err == nil {
			t.Errorf("%c: a final verdict replaced", c)
		}
	}
	st, err := s.Stats()
	must(err)
	if st.Scans != 3 || st.Duplicates != 1 || st.Rejected[reason.LowDPI] != 1 || st.QueueLength != 1 {
		t.Errorf("stats %+v", st)
	}
	for i := 1; i <= 2; i++ {
		if n, err := s.ParserDied(sha('d')); err != nil || n != i {
			t.Errorf("parser death %d counted as %d, %v", i, n, err)
		}
	}
	// Every code seen on a scan is received; only the queued one waits to be digitized.
	list, _, err := s.Received("")
	must(err)
	if len(list) != 3 {
		t.Errorf("received %+v", list)
	}
}
