package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/reason"
)

func open(t *testing.T) (*Store, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sohoa.db")
	s, err := Open(p, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

var t0 = time.Date(2020, 3, 20, 8, 0, 0, 0, time.UTC)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func TestSecondOpenIsLocked(t *testing.T) {
	_, p := open(t)
	_, err := Open(p, 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestLifecycleAndCounters(t *testing.T) {
	s, p := open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Record(Scan{SHA256: sha('a'), Size: 100, Name: "a.pdf", State: Queued, Dossiers: []string{"D1"}, Seen: t0}))
	must(s.Record(Scan{SHA256: sha('b'), Size: 200, Name: "b.pdf", State: Queued, Dossiers: []string{"D1"}, Seen: t0.Add(time.Minute)}))
	must(s.Record(Scan{SHA256: sha('c'), State: Rejected, Reason: reason.LowDPI, Seen: t0}))
	must(s.Record(Scan{SHA256: sha('d'), State: Waiting, Reason: reason.NoCode, Seen: t0}))
	if err := s.Record(Scan{SHA256: sha('a'), State: Queued, Dossiers: []string{"D1"}, Seen: t0}); err == nil {
		t.Error("the same content recorded twice")
	}
	if err := s.Record(Scan{SHA256: sha('e'), State: Queued, Seen: t0}); err == nil {
		t.Error("queued without a dossier")
	}

	st, err := s.Stats()
	must(err)
	if st.Scans != 4 || st.QueueLength != 2 || st.QueueBytes != 300 || !st.QueueOldest.Equal(t0) ||
		st.Rejected[reason.LowDPI] != 1 || st.Unlinked != 1 {
		t.Errorf("stats %+v", st)
	}

	// Link the waiting one; it queues under its dossier.
	must(s.Link(sha('d'), []string{"D2"}, "D2.pdf", "Chờ/D2.pdf", t0.Add(time.Hour)))
	if err := s.Link(sha('d'), []string{"D2"}, "D2.pdf", "x", t0); err == nil {
		t.Error("linked a scan that is no longer waiting")
	}

	due, next, err := s.Jobs(t0.Add(2*time.Hour), 10)
	must(err)
	if len(due) != 3 || !next.IsZero() || due[0].SHA256 != sha('a') || due[2].Dossier != "D2" {
		t.Fatalf("jobs %+v next %v", due, next)
	}
	// A failure pushes the job back and is counted by kind.
	must(s.Failed(due[0], "filesystem", t0.Add(3*time.Hour), "share not mounted"))
	due2, next, err := s.Jobs(t0.Add(2*time.Hour), 10)
	must(err)
	if len(due2) != 2 || !next.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("after failure: %d due, next %v", len(due2), next)
	}
	// Two scans of D1 uploaded: the dossier is digitized once.
	must(s.Done(due[1], t0.Add(2*time.Hour)))
	must(s.Done(due[0], t0.Add(4*time.Hour)))
	if err := s.Done(due[0], t0.Add(4*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("a job confirmed twice: %v", err)
	}
	st, err = s.Stats()
	must(err)
	if st.Uploads != 2 || st.UploadBytes != 300 || st.DossiersDigitized != 1 || st.QueueLength != 1 ||
		st.UploadFailures["filesystem"] != 1 || !st.LastUploadSuccess.Equal(t0.Add(4*time.Hour)) || st.Unlinked != 0 {
		t.Errorf("stats %+v", st)
	}
	d, err := s.Dossier("D1")
	must(err)
	if !d.Digitized.Equal(t0.Add(2*time.Hour)) || d.Scans != 2 {
		t.Errorf("dossier %+v", d)
	}
	sc, err := s.Scan(sha('a'))
	must(err)
	if sc.State != Uploaded {
		t.Errorf("scan state %s", sc.State)
	}

	// Everything survives a reopen, and the file checks clean.
	must(s.Close())
	s2, err := Open(p, time.Second)
	must(err)
	defer s2.Close()
	st2, err := s2.Stats()
	must(err)
	if st2.Uploads != 2 || st2.DossiersDigitized != 1 || st2.QueueLength != 1 {
		t.Errorf("after reopen %+v", st2)
	}
	must(s2.Check())
}

func TestRepairedScanDeliversRepairedContent(t *testing.T) {
	s, _ := open(t)
	if err := s.Record(Scan{SHA256: sha('a'), Size: 100, State: Queued, Dossiers: []string{"D"}, Seen: t0,
		Repaired: true, RepairedSHA256: sha('r'), RepairedSize: 90}); err != nil {
		t.Fatal(err)
	}
	due, _, err := s.Jobs(t0, 1)
	if err != nil || len(due) != 1 {
		t.Fatal(due, err)
	}
	if due[0].Content != sha('r') || due[0].Size != 90 || !due[0].Repaired {
		t.Errorf("job %+v", due[0])
	}
}

func TestOpenFailsOnGarbage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sohoa.db")
	os.WriteFile(p, []byte("this is not a bbolt file, but long enough to look like a page header........"), 0o600)
	if _, err := Open(p, time.Second); err == nil {
		t.Fatal("opened a file that is not a database")
	}
}
