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

// fatalIf returns a function that ends the test on a non-nil error.
func fatalIf(t *testing.T) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	_, p := open(t)
	_, err := Open(p, 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func TestLifecycleAndCounters(t *testing.T) {
	s, p := open(t)
	must := fatalIf(t)
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

// A waiting scan whose file staff removed counts as abandoned, not unlinked,
// and counts as waiting (or queued) again when the file comes back.
func TestAbandonAndBack(t *testing.T) {
	s, _ := open(t)
	must := fatalIf(t)
	counts := func(unlinked, abandoned uint64) {
		t.Helper()
		st, err := s.Stats()
		must(err)
		if st.Unlinked != unlinked || st.Abandoned != abandoned {
			t.Errorf("unlinked %d, abandoned %d; want %d, %d", st.Unlinked, st.Abandoned, unlinked, abandoned)
		}
	}
	abandon := func(c byte, place string, want bool) {
		t.Helper()
		ok, err := s.Abandon(sha(c), place)
		must(err)
		if ok != want {
			t.Errorf("abandon %c at %q: %v, want %v", c, place, ok, want)
		}
	}
	for _, c := range []byte("abc") {
		must(s.Record(Scan{SHA256: sha(c), Size: 10, State: Waiting, Reason: reason.NoCode, Seen: t0}))
	}
	must(s.Record(Scan{SHA256: sha('q'), Size: 10, State: Queued, Dossiers: []string{"D"}, Seen: t0}))
	counts(3, 0)
	abandon('a', "Chờ/a.pdf", false) // not yet placed for staff
	abandon('q', "", false)          // not waiting
	for _, c := range []byte("abc") {
		must(s.Settle(sha(c), "Chờ/"+string(c)+".pdf"))
	}
	abandon('a', "Chờ/other.pdf", false) // moved meanwhile: not this place
	abandon('a', "Chờ/a.pdf", true)
	abandon('a', "Chờ/a.pdf", false) // once
	abandon('b', "Chờ/b.pdf", true)
	abandon('c', "Chờ/c.pdf", true)
	counts(0, 3)
	if sc, err := s.Scan(sha('a')); err != nil || !sc.Gone || sc.State != Waiting {
		t.Errorf("abandoned scan %+v, %v", sc, err)
	}
	if w, err := s.WaitingScans(); err != nil || len(w) != 3 {
		t.Errorf("waiting scans %d, %v; want the 3 abandoned ones", len(w), err)
	}

	// Put back still without a code: waiting again.
	must(s.Hold(sha('a'), reason.NoCode, "", "a.pdf", "a.pdf"))
	counts(1, 2)
	// Put back with a code: queued, counted in neither.
	must(s.Link(sha('b'), []string{"D2"}, "D2.pdf", "D2.pdf", t0))
	counts(1, 1)
	if st, _ := s.Stats(); st.QueueLength != 2 {
		t.Errorf("queue %d, want 2", st.QueueLength)
	}
	// Back, placed again, and gone again.
	must(s.Settle(sha('a'), "Chờ/a.pdf"))
	abandon('a', "Chờ/a.pdf", true)
	counts(0, 2)
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

func TestTrimmedScanDeliversItsCopyWithoutBlankPages(t *testing.T) {
	for _, repaired := range []bool{false, true} {
		s, _ := open(t)
		sc := Scan{SHA256: sha('a'), Size: 100, Pages: 5, State: Waiting, Reason: reason.NoCode, Seen: t0,
			BlankDropped: 2, Trimmed: true, TrimmedSHA256: sha('t'), TrimmedSize: 60}
		if repaired {
			sc.Repaired, sc.RepairedSHA256, sc.RepairedSize = true, sha('r'), 90
		}
		// Linked later, by a person: the trimmed copy is still what goes.
		if err := s.Record(sc); err != nil {
			t.Fatal(err)
		}
		if err := s.Link(sha('a'), []string{"D"}, "D.pdf", "D.pdf", t0); err != nil {
			t.Fatal(err)
		}
		due, _, err := s.Jobs(t0, 1)
		if err != nil || len(due) != 1 {
			t.Fatal(due, err)
		}
		if j := due[0]; j.Content != sha('t') || j.Size != 60 || j.Pages != 3 || !j.Trimmed || j.Repaired != repaired {
			t.Errorf("repaired %v: job %+v", repaired, j)
		}
		if got, _ := s.Scan(sha('a')); got.BlankDropped != 2 {
			t.Errorf("blank pages dropped %d, want 2", got.BlankDropped)
		}
	}
}

func TestOpenFailsOnGarbage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sohoa.db")
	os.WriteFile(p, []byte("this is not a bbolt file, but long enough to look like a page header........"), 0o600)
	if _, err := Open(p, time.Second); err == nil {
		t.Fatal("opened a file that is not a database")
	}
}

func TestDueSkipsAndLimits(t *testing.T) {
	s, _ := open(t)
	for i, c := range []byte("abcd") {
		d := "D1"
		if i >= 2 {
			d = "D2"
		}
		if err := s.Record(Scan{SHA256: sha(c), Size: 1, Name: "x.pdf", State: Queued, Dossiers: []string{d}, Seen: t0}); err != nil {
			t.Fatal(err)
		}
	}
	// One job per dossier, as the uploader takes them.
	taken := map[string]bool{}
	due, _, err := s.Due(t0, 10, func(j Job) bool {
		if taken[j.Dossier] {
			return true
		}
		taken[j.Dossier] = true
		return false
	})
	if err != nil || len(due) != 2 || due[0].SHA256 != sha('a') || due[1].SHA256 != sha('c') {
		t.Fatalf("due %+v, %v", due, err)
	}
	// skip is not asked once the limit is reached.
	calls := 0
	due, _, err = s.Due(t0, 1, func(Job) bool { calls++; return false })
	if err != nil || len(due) != 1 || calls != 1 {
		t.Errorf("limit 1: %d due, skip called %d times, %v", len(due), calls, err)
	}
}

func TestProgressIsKeptThroughFailuresAndReopen(t *testing.T) {
	s, p := open(t)
	if err := s.Record(Scan{SHA256: sha('a'), Size: 10, Name: "a.pdf", State: Queued, Dossiers: []string{"D"}, Seen: t0}); err != nil {
		t.Fatal(err)
	}
	due, _, _ := s.Jobs(t0, 1)
	j := due[0] // the worker's copy, taken before the progress was saved
	if err := s.SaveProgress(j, map[string]string{"file_id": "f-17"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Failed(j, "http_5xx", t0.Add(time.Minute), "HTTP 502"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(p, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	due, _, err = s.Jobs(t0.Add(time.Hour), 1)
	if err != nil || len(due) != 1 {
		t.Fatal(due, err)
	}
	if got := due[0]; got.Progress["file_id"] != "f-17" || got.Attempts != 1 || got.LastError != "HTTP 502" {
		t.Errorf("after a failure and a reopen: %+v", got)
	}
	if err := s.Done(due[0], t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProgress(due[0], map[string]string{"file_id": "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("progress saved for a finished job: %v", err)
	}
}

func TestParkAndRequeue(t *testing.T) {
	s, _ := open(t)
	must := fatalIf(t)
	for i, c := range []byte("abc") {
		must(s.Record(Scan{SHA256: sha(c), Size: int64(10 * (i + 1)), Name: "s.pdf", State: Queued,
			Dossiers: []string{"D" + string(c)}, Seen: t0.Add(time.Duration(i) * time.Minute)}))
	}
	due, _, _ := s.Jobs(t0, 10)
	must(s.SaveProgress(due[0], map[string]string{"file_id": "f-1"}))
	for _, j := range due {
		must(s.Park(j, "http_4xx", 400, "HTTP 400 Bad Request: mã hồ sơ không tồn tại", t0.Add(time.Hour)))
	}
	if err := s.Park(due[0], "http_4xx", 400, "again", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("parked twice: %v", err)
	}
	if err := s.Done(due[0], t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("a parked job confirmed: %v", err)
	}
	if err := s.Failed(due[0], "network", t0, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a parked job failed: %v", err)
	}
	if d, _, _ := s.Jobs(t0.Add(24*time.Hour), 10); len(d) != 0 {
		t.Errorf("%d parked jobs still due", len(d))
	}
	st, err := s.Stats()
	must(err)
	if st.Parked != 3 || st.ParkedBytes != 60 || st.QueueLength != 0 || st.UploadFailures["http_4xx"] != 3 || st.UploadRetries != 0 {
		t.Errorf("stats %+v", st)
	}
	parked, err := s.Parked()
	must(err)
	if len(parked) != 3 || parked[0].Status != 400 || parked[0].LastError != "HTTP 400 Bad Request: mã hồ sơ không tồn tại" ||
		!parked[0].Parked.Equal(t0.Add(time.Hour)) || parked[0].Progress["file_id"] != "f-1" || parked[0].Attempts != 1 {
		t.Errorf("parked %+v", parked)
	}
	if sc, _ := s.Scan(sha('a')); sc.State != Queued || sc.Pending != 1 {
		t.Errorf("a parked job's scan is %s with %d pending", sc.State, sc.Pending)
	}

	// By a short hash: the progress is kept, the attempts start again.
	moved, err := s.Requeue(BySHA256(sha('a')[:8]), false)
	must(err)
	if len(moved) != 1 || moved[0].SHA256 != sha('a') {
		t.Fatalf("requeued %+v", moved)
	}
	due, _, _ = s.Jobs(t0, 10)
	if len(due) != 1 || due[0].Progress["file_id"] != "f-1" || due[0].Attempts != 0 || due[0].LastError != "" || !due[0].Parked.IsZero() {
		t.Errorf("requeued job %+v", due)
	}
	if moved, _ := s.Requeue(BySHA256("abc"), false); len(moved) != 0 {
		t.Errorf("a 3-digit prefix matched %d jobs", len(moved))
	}
	// By dossier, any case.
	moved, err = s.Requeue(ByDossier("db"), false)
	must(err)
	if len(moved) != 1 || moved[0].Dossier != "Db" {
		t.Errorf("by dossier: %+v", moved)
	}
	// The rest, starting over.
	must(s.SaveProgress(due[0], map[string]string{"file_id": "f-1"}))
	must(s.Park(due[0], "http_4xx", 404, "HTTP 404", t0))
	moved, err = s.Requeue(nil, true)
	must(err)
	if len(moved) != 2 {
		t.Errorf("requeue all: %d", len(moved))
	}
	due, _, _ = s.Jobs(t0, 10)
	if len(due) != 3 || due[0].SHA256 != sha('a') || due[0].Progress != nil {
		t.Errorf("after requeueing all, in queue order, progress forgotten: %+v", due)
	}
	st, _ = s.Stats()
	if st.Parked != 0 || st.QueueLength != 3 {
		t.Errorf("stats %+v", st)
	}
	must(s.Check())
}

// TestUnlinkedSince: the age IT alerts on is the oldest scan still waiting
// in the inbox; abandoned and linked scans leave it, one put back returns.
func TestUnlinkedSince(t *testing.T) {
	s, _ := open(t)
	must := fatalIf(t)
	since := func(want time.Time) {
		t.Helper()
		got, err := s.UnlinkedSince()
		must(err)
		if !got.Equal(want) {
			t.Errorf("unlinked since %v, want %v", got, want)
		}
	}
	since(time.Time{})
	must(s.Record(Scan{SHA256: sha('q'), Size: 10, State: Queued, Dossiers: []string{"D"}, Seen: t0.Add(-time.Hour)}))
	since(time.Time{}) // queued, not waiting
	for i, c := range []byte("abc") {
		must(s.Record(Scan{SHA256: sha(c), Size: 10, State: Waiting, Reason: reason.NoCode, Seen: t0.Add(time.Duration(i) * time.Hour)}))
		must(s.Settle(sha(c), "Chờ/"+string(c)+".pdf"))
	}
	since(t0)
	must(s.Record(Scan{SHA256: sha('z'), Size: 10, State: Waiting, Reason: reason.NoCode})) // no time: skipped
	since(t0)
	must(s.Link(sha('z'), []string{"D9"}, "D9.pdf", "D9.pdf", t0))
	if ok, err := s.Abandon(sha('a'), "Chờ/a.pdf"); err != nil || !ok {
		t.Fatalf("abandon a: %v, %v", ok, err)
	}
	since(t0.Add(time.Hour)) // a was deleted: b has waited longest
	must(s.Link(sha('b'), []string{"D2"}, "D2.pdf", "D2.pdf", t0))
	since(t0.Add(2 * time.Hour))
	must(s.Hold(sha('a'), reason.NoCode, "", "a.pdf", "a.pdf"))
	since(t0) // a is back in the inbox, waiting since it was first recorded
	must(s.Link(sha('a'), []string{"D3"}, "D3.pdf", "D3.pdf", t0))
	must(s.Link(sha('c'), []string{"D4"}, "D4.pdf", "D4.pdf", t0))
	since(time.Time{})
}
