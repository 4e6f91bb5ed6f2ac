package upload

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
)

// runUntil runs a worker on st delivering the spool's files into sink
// until done reports true of the store's stats, and returns the attempts
// it observed.
func runUntil(t *testing.T, st *store.Store, spool string, sink Sink, done func(store.Stats) bool) []Attempt {
	t.Helper()
	var attempts []Attempt
	observed := make(chan Attempt, 100)
	w := NewWorker(Worker{
		Queue: st, Sink: sink, Ward: "000.00.12.H57",
		Path:    func(j store.Job) string { return filepath.Join(spool, j.Content+".pdf") },
		Backoff: province.Backoff{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Observe: func(a Attempt) { observed <- a },
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := st.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if done(s) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker did not finish: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a retry, were there one, would be seen by now
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	close(observed)
	for a := range observed {
		attempts = append(attempts, a)
	}
	return attempts
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// queueScan writes content into the spool and records it queued for the
// dossier code under name.
func queueScan(t *testing.T, st *store.Store, spool, code, name, content string) string {
	t.Helper()
	_, sha := writeScan(t, spool, content)
	if err := st.Record(store.Scan{SHA256: sha, Size: int64(len(content)), Name: name, State: store.Queued,
		Dossiers: []string{code}, Seen: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return sha
}

// TestLongNamesAreShortened: a 255-byte name taken twice, and a batch's
// part of a 240-byte name (its dossier code added), are delivered by the
// real folder sink on the real file system under names that fit, keeping
// the dossier code, the extension and the hash, at the first attempt.
func TestLongNamesAreShortened(t *testing.T) {
	st := openStore(t)
	spool, outbox := t.TempDir(), t.TempDir()
	const code, code2 = "000.00.12.H57-241207-0031", "000.00.12.H57-241207-0032"
	words := " Tờ khai đăng ký khai sinh bản sao giấy tờ kèm theo"
	long := code + strings.Repeat(words, 10)
	name255 := trimCut(long, maxName-len(".pdf")) + ".pdf"
	for len(name255) < maxName { // a character of three bytes may have been cut
		name255 = "_" + name255
	}
	batch := trimCut(strings.Repeat("Bản scan lô hồ sơ buổi sáng ", 12), 240) + " - " + code2 + ".pdf"
	first := queueScan(t, st, spool, code, name255, "%PDF-1.4 first")
	second := queueScan(t, st, spool, code, name255, "%PDF-1.4 second, same name")
	part := queueScan(t, st, spool, code2, batch, "%PDF-1.4 a part of a batch")

	attempts := runUntil(t, st, spool, DirSink{Root: outbox}, func(s store.Stats) bool { return s.Uploads == 3 })
	if len(attempts) != 3 {
		t.Errorf("%d attempts for 3 uploads: %+v", len(attempts), attempts)
	}
	delivered := func(code string) []string {
		entries, err := os.ReadDir(filepath.Join(outbox, code))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	got := delivered(code)
	if len(got) != 2 || !slices.Contains(got, name255) {
		t.Fatalf("dossier %s holds %q, want the 255-byte name and a shortened one", code, got)
	}
	for _, n := range got {
		if n != name255 {
			checkShortened(t, n, code, second)
		}
	}
	got = delivered(code2)
	if len(got) != 1 {
		t.Fatalf("dossier %s holds %q", code2, got)
	}
	checkShortened(t, got[0], code2, part)
	if b, err := os.ReadFile(filepath.Join(outbox, code, name255)); err != nil || string(b) != "%PDF-1.4 first" {
		t.Errorf("%s under its own name: %q %v", first[:12], b, err)
	}
}

func TestShorten(t *testing.T) {
	const code = "000.00.12.H57-241207-0031"
	sha := strings.Repeat("ab", 32)
	for _, tt := range []struct{ name, want string }{
		{strings.Repeat("ễ", 100) + ".pdf", code + " " + strings.Repeat("ễ", 70) + " (abababababab).pdf"},
		{"x." + strings.Repeat("y", 300), code + " x." + strings.Repeat("y", 212) + " (abababababab)"},
		{code + strings.Repeat(" a", 150) + ".PDF", code + strings.Repeat(" a", 105) + " (abababababab).PDF"},
	} {
		got := shorten(tt.name, code, sha)
		if got != tt.want || len(got) > maxName {
			t.Errorf("shorten(%q)\n = %q (%d bytes)\nwant %q", tt.name, got, len(got), tt.want)
		}
	}
}

func checkShortened(t *testing.T, name, code, sha string) {
	t.Helper()
	if len(name) > maxName || !utf8.ValidString(name) || !strings.Contains(name, code) ||
		!strings.HasSuffix(name, " ("+sha[:12]+").pdf") {
		t.Errorf("delivered as %q (%d bytes): want at most %d bytes, valid UTF-8, with %s and ending in (%s).pdf",
			name, len(name), maxName, code, sha[:12])
	}
}

// TestNamesThatCannotBeDeliveredAreParked: a name the file system refuses
// (a dossier folder name over its limit) and a scan whose two names are
// held by folders are parked at their first attempt, not retried, and the
// other scans are delivered.
func TestNamesThatCannotBeDeliveredAreParked(t *testing.T) {
	st := openStore(t)
	spool, outbox := t.TempDir(), t.TempDir()
	const code = "000.00.12.H57-241207-0031"
	tooLong := code + strings.Repeat("-0", 150)
	queueScan(t, st, spool, tooLong, "scan.pdf", "%PDF-1.4 a folder name too long")
	held := queueScan(t, st, spool, code, "held.pdf", "%PDF-1.4 both names held")
	for _, n := range names("held.pdf", code, held) {
		if err := os.MkdirAll(filepath.Join(outbox, code, n), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	queueScan(t, st, spool, "000.00.12.H57-241207-0032", "ok.pdf", "%PDF-1.4 fine")

	attempts := runUntil(t, st, spool, DirSink{Root: outbox}, func(s store.Stats) bool { return s.Parked == 2 && s.Uploads == 1 })
	if len(attempts) != 3 {
		t.Errorf("%d attempts, want 3 (no retry): %+v", len(attempts), attempts)
	}
	parked, err := st.Parked()
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range parked {
		if j.Attempts != 1 || j.LastError == "" {
			t.Errorf("parked %+v", j)
		}
	}
	if s, _ := st.Stats(); s.UploadRetries != 0 || s.QueueLength != 0 {
		t.Errorf("stats %+v", s)
	}
}
