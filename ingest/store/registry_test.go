package store

import (
	"slices"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
)

func ict(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, dossier.ICT()) }

func TestPutRegistry(t *testing.T) {
	s, p := open(t)
	at := t0
	rows := []dossier.Record{
		{Line: 2, Code: "000.00.12.H57-200316-0001", Received: ict(2020, 3, 16), Due: ict(2020, 3, 20), Procedure: "Chứng thực"},
		{Line: 3, Code: "000.00.12.H57-200316-0002", Received: ict(2020, 3, 16)},
		{Line: 4, Code: "000.00.01.H57-200316-0001", Received: ict(2020, 3, 16)}, // another agency's
	}
	steps := []struct {
		name string
		rows []dossier.Record
		want RegistryStats
	}{
		{"first import", rows, RegistryStats{Added: 3}},
		{"same rows again", rows, RegistryStats{Unchanged: 3}},
		{"a row returned", []dossier.Record{rows[0], {Line: 3, Code: rows[1].Code, Received: rows[1].Received, Returned: ict(2020, 3, 18)}},
			RegistryStats{Updated: 1, Unchanged: 1}},
		{"code in lower case is the same code", []dossier.Record{{Code: "000.00.12.h57-200316-0001", Received: ict(2020, 3, 16), Due: ict(2020, 3, 20), Procedure: "Chứng thực"}},
			RegistryStats{Unchanged: 1}},
	}
	for _, step := range steps {
		at = at.Add(time.Hour)
		got, err := s.PutRegistry(step.rows, SourceImport, at)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got != step.want {
			t.Errorf("%s: %+v, want %+v", step.name, got, step.want)
		}
	}
	e, err := s.Entry(rows[1].Code)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Returned.Equal(ict(2020, 3, 18)) || e.Source != SourceImport || !e.Updated.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("updated entry %+v", e)
	}
	if e, _ := s.Entry(rows[0].Code); !e.Updated.Equal(t0.Add(time.Hour)) {
		t.Errorf("unchanged entry was rewritten: %+v", e)
	}

	// A bad row fails the whole call: nothing of it is recorded.
	bad := []dossier.Record{{Code: "000.00.12.H57-200317-0001", Received: ict(2020, 3, 17)}, {Line: 9, Code: "000.00.12.H57-200317-0002"}}
	if _, err := s.PutRegistry(bad, SourcePull, at); err == nil {
		t.Error("a row without a received date was accepted")
	}
	if _, err := s.Entry(bad[0].Code); err == nil {
		t.Error("part of a failed import was recorded")
	}
	if _, err := s.PutRegistry(rows, "guess", at); err == nil {
		t.Error("unknown source accepted")
	}

	// The registry survives a reopen.
	s.Close()
	s2, err := Open(p, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.PutRegistry(rows[:1], SourcePull, at); err != nil || got != (RegistryStats{Unchanged: 1}) {
		t.Errorf("after reopen: %+v %v", got, err)
	}
}

// TestReceived checks how the registry and the scans combine: a scanned
// dossier the registry has counts once, on the registry's date; one only
// scanned counts on its code's date; other agencies' codes are left out
// and named.
func TestReceived(t *testing.T) {
	s, _ := open(t)
	const ward = "000.00.12.H57"
	if list, foreign, err := s.Received(ward); err != nil || len(list) != 0 || len(foreign) != 0 {
		t.Fatalf("empty store: %v %v %v", list, foreign, err)
	}
	inRegistry := "000.00.12.H57-200316-0001"
	onlyScanned := "000.00.12.H57-200317-0005"
	foreignScan := "000.00.01.H57-200317-0001"
	_, err := s.PutRegistry([]dossier.Record{
		{Code: inRegistry, Received: ict(2020, 3, 15)}, // registered the day before the code says
		{Code: "000.00.12.H57-200316-0002", Received: ict(2020, 3, 16)},
		{Code: "000.00.02.H57-200316-0001", Received: ict(2020, 3, 16)},
	}, SourceImport, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Read once before the scans: the answer kept for the scrapes must not
	// hide what is committed after it.
	if list, _, err := s.Received(ward); err != nil || len(list) != 2 {
		t.Fatalf("before the scans: %v %v", list, err)
	}
	for i, code := range []string{inRegistry, onlyScanned, foreignScan} {
		sc := Scan{SHA256: sha(byte('a' + i)), Size: 10, State: Queued, Dossiers: []string{code}, Seen: t0}
		if err := s.Record(sc); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _, err := s.Jobs(t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	uploaded := t0.Add(24 * time.Hour)
	for _, j := range jobs {
		if j.Dossier != onlyScanned {
			if err := s.Done(j, uploaded); err != nil {
				t.Fatal(err)
			}
		}
	}

	list, foreign, err := s.Received(ward)
	if err != nil {
		t.Fatal(err)
	}
	again, _, _ := s.Received(ward)
	if len(again) != len(list) || !again[0].Digitized.Equal(list[0].Digitized) {
		t.Errorf("second read differs: %v, first %v", again, list)
	}
	again[0].Code = "changed by the caller"
	if third, _, _ := s.Received(ward); third[0].Code != inRegistry {
		t.Errorf("a caller changed the kept answer: %v", third[0].Code)
	}
	type got struct {
		code, source string
		received     time.Time
		digitized    bool
	}
	var all []got
	for _, d := range list {
		all = append(all, got{d.Code, d.Source, d.Received, !d.Digitized.IsZero()})
	}
	want := []got{
		{inRegistry, SourceImport, ict(2020, 3, 15), true},
		{"000.00.12.H57-200316-0002", SourceImport, ict(2020, 3, 16), false},
		{onlyScanned, SourceScan, ict(2020, 3, 17), false},
	}
	if len(all) != len(want) {
		t.Fatalf("received %+v, want %+v", all, want)
	}
	for i := range want {
		if all[i].code != want[i].code || all[i].source != want[i].source || !all[i].received.Equal(want[i].received) ||
			all[i].digitized != want[i].digitized {
			t.Errorf("dossier %d: %+v, want %+v", i, all[i], want[i])
		}
	}
	if !slices.Equal(foreign, []string{foreignScan, "000.00.02.H57-200316-0001"}) {
		t.Errorf("foreign %v", foreign)
	}
}
