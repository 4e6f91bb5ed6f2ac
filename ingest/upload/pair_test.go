package upload

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

// TestSameContentForTwoDossiers: one content linked to two dossiers (an ID
// card scanned once, saved for dossiers 0031 and 0032) is uploaded once to
// each, under two idempotency keys derived from the pair, and every attempt
// of one pair (the first fails) carries that pair's key.
func TestSameContentForTwoDossiers(t *testing.T) {
	const d1, d2 = "000.00.12.H57-260323-0031", "000.00.12.H57-260323-0032"
	p := newProvince(t)
	var mu sync.Mutex
	keys := map[string][]string{} // dossier -> the key of each upload request
	p.fault = func(_ string, _ int, r *http.Request) fault {
		d := strings.Split(r.URL.Path, "/")[3]
		mu.Lock()
		defer mu.Unlock()
		keys[d] = append(keys[d], r.Header.Get("Idempotency-Key"))
		if len(keys[d]) == 1 { // each pair's first attempt fails
			return fault{status: http.StatusServiceUnavailable}
		}
		return fault{}
	}
	h := newHarness(t, time.Now)
	s := h.add(d1, 3000)
	added, err := h.st.AddDossier(s.sha, d2, "CCCD 0032.pdf", "0032/CCCD.pdf", false, time.Now())
	if err != nil || !added {
		t.Fatalf("add dossier: %v, %v", added, err)
	}
	if again, err := h.st.AddDossier(s.sha, d2, "CCCD 0032.pdf", "0032/CCCD.pdf", false, time.Now()); err != nil || again {
		t.Fatalf("the same pair added again: %v, %v", again, err)
	}
	h.start(p.sink(t, 0, nil), 2, nil)
	h.wait(2, 0)
	h.stop()

	p.mu.Lock()
	if p.stored[s.sha] != 2 || len(p.byDoss[d1]) != 1 || len(p.byDoss[d2]) != 1 {
		t.Errorf("stored %d times; under %s %v, under %s %v", p.stored[s.sha], d1, p.byDoss[d1], d2, p.byDoss[d2])
	}
	for _, pr := range p.problems {
		t.Error("protocol: " + pr)
	}
	p.mu.Unlock()
	for _, d := range []string{d1, d2} {
		want := IdempotencyKey(d, s.sha)
		if len(keys[d]) < 2 {
			t.Errorf("%s: %d requests, want a failed one and its retry", d, len(keys[d]))
		}
		for _, k := range keys[d] {
			if k != want {
				t.Errorf("%s: key %q, want %q on every attempt", d, k, want)
			}
		}
	}
	if IdempotencyKey(d1, s.sha) == IdempotencyKey(d2, s.sha) || IdempotencyKey(d1, s.sha) == s.sha {
		t.Error("the pair's key is not its own")
	}
	sc, err := h.st.Scan(s.sha)
	if err != nil || sc.State != store.Uploaded || len(sc.UploadedTo) != 2 {
		t.Errorf("record %+v, %v", sc, err)
	}
	if st, _ := h.st.Stats(); st.DossiersDigitized != 2 || st.Uploads != 2 {
		t.Errorf("digitized %d, uploads %d, want 2 and 2", st.DossiersDigitized, st.Uploads)
	}

	// The folder sink puts it in each dossier's folder.
	root := t.TempDir()
	d := DirSink{Root: root}
	for _, code := range []string{d1, d2} {
		it := Item{Dossier: code, Name: "CCCD.pdf", SHA256: s.sha, Size: s.size, Path: filepath.Join(h.spool, s.sha+".pdf")}
		if err := d.Put(context.Background(), it); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, code, "CCCD.pdf")); err != nil {
			t.Errorf("not delivered to %s: %v", code, err)
		}
	}
}

// A job queued before keys were per pair keeps the content's SHA-256 as its
// key, as its first attempts sent it.
func TestJobKey(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	if k := jobKey(store.Job{Dossier: "D", Content: sha, ContentKey: true}); k != sha {
		t.Errorf("old job's key %q", k)
	}
	if k := jobKey(store.Job{Dossier: "D", Content: sha}); k != IdempotencyKey("D", sha) || len(k) != 64 {
		t.Errorf("key %q", k)
	}
}
