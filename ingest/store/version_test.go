package store

import (
	"errors"
	"testing"
)

// TestVersion: reading leaves the version alone; every state change moves it.
func TestVersion(t *testing.T) {
	s, _ := open(t)
	ok := fatalIf(t)
	v0, err := s.Version()
	ok(err)
	if _, err := s.Scan(sha('a')); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if v, err := s.Version(); err != nil || v != v0 {
		t.Fatalf("a read moved the version from %d to %d (%v)", v0, v, err)
	}
	ok(s.Record(Scan{SHA256: sha('a'), Name: "a.pdf", State: Waiting, Seen: t0}))
	v1, err := s.Version()
	ok(err)
	if v1 == v0 {
		t.Fatalf("recording a scan left the version at %d", v0)
	}
	ok(s.Link(sha('a'), []string{"000.00.12.H57-200320-0001"}, "x.pdf", "x.pdf", t0))
	if v2, err := s.Version(); err != nil || v2 == v1 {
		t.Fatalf("linking a scan left the version at %d (%v)", v1, err)
	}
}
