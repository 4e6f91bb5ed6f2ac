package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestCorpusEndToEnd: every file of the project's corpus dropped into the
// inbox ends where testdata/corpus/expected.tsv says.
func TestCorpusEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.start()
	start := time.Now()
	rows, corpus := testenv.Expected(t), testenv.Corpus(t)
	for _, r := range rows {
		copyFile(t, filepath.Join(corpus, r.File), filepath.Join(e.inbox, r.File))
	}
	e.waitFor("every sample to leave the inbox", 60*time.Second, func() bool { return len(e.inboxLeft()) == 0 })
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("the upload queue to drain", 30*time.Second, func() bool {
		return e.metric("sohoa_upload_queue_length"+ward) == 0
	})

	out := e.outboxFiles()
	uploaded := 0
	for _, r := range rows {
		errPath := filepath.Join(e.inbox, "Lỗi", r.File)
		waitPath := filepath.Join(e.inbox, "Chờ mã hồ sơ", r.File)
		// Linked by name, or by the receipt's barcode; a batch is split into
		// one upload per dossier.
		linked := len(r.Codes) == 1
		switch {
		case r.Verdict == "valid" && len(r.Codes) > 1:
			stem := strings.TrimSuffix(r.File, ".pdf")
			for _, code := range r.Codes {
				if _, ok := out[code+"/"+stem+" - "+code+".pdf"]; !ok {
					t.Errorf("%s: no part uploaded for %s; outbox: %v", r.File, code, out)
				}
				uploaded++
			}
		case r.Verdict == "invalid":
			note, err := os.ReadFile(errPath + ".txt")
			if _, serr := os.Stat(errPath); serr != nil || err != nil {
				t.Errorf("%s: invalid but not in the errors folder with a note", r.File)
				continue
			}
			if !strings.Contains(string(note), "Cần làm:") {
				t.Errorf("%s: note says no action:\n%s", r.File, note)
			}
		case linked:
			p, ok := out[r.Codes[0]+"/"+r.File]
			if !ok {
				t.Errorf("%s: not uploaded as %s/%s; outbox: %v", r.File, r.Codes[0], r.File, out)
				continue
			}
			uploaded++
			if strings.Contains(r.Note, "repairable") {
				if fileSHA(t, p) == fileSHA(t, filepath.Join(corpus, r.File)) {
					t.Errorf("%s: the original was uploaded, not the repaired copy", r.File)
				}
				if b, _ := exec.Command(binPath, "check", "--json", p).Output(); !bytes.Contains(b, []byte(`"valid":true`)) || !bytes.Contains(b, []byte(`"repaired":false`)) {
					t.Errorf("%s: uploaded repaired copy does not check clean: %s", r.File, b)
				}
			} else if strings.Contains(r.Note, "blank back") {
				// Uploaded without its blank backs: TestDuplexEndToEnd.
				if fileSHA(t, p) == fileSHA(t, filepath.Join(corpus, r.File)) {
					t.Errorf("%s: uploaded with its blank back sides", r.File)
				}
			} else if fileSHA(t, p) != fileSHA(t, filepath.Join(corpus, r.File)) {
				t.Errorf("%s: uploaded content differs from the scan", r.File)
			}
		default:
			// A batch, or no code anywhere: it must wait for a person, never
			// be lost.
			if _, err := os.Stat(waitPath); err != nil {
				t.Errorf("%s: valid but neither uploaded nor waiting: %v", r.File, err)
			}
			if _, err := os.Stat(waitPath + ".txt"); err != nil {
				t.Errorf("%s: waiting without a note", r.File)
			}
		}
	}
	if len(out) != uploaded {
		t.Errorf("outbox has %d files, want %d: %v", len(out), uploaded, out)
	}
	// Each part of a batch counts as a scan of its own.
	scans := len(rows)
	for _, r := range rows {
		if r.Verdict == "valid" && len(r.Codes) > 1 {
			scans += len(r.Codes) - 1
		}
	}
	if got := e.metric("sohoa_scans_total" + ward); got != float64(scans) {
		t.Errorf("sohoa_scans_total = %v, want %d", got, scans)
	}
	if got := e.metric("sohoa_dossiers_digitized_total" + ward); got != float64(uploaded) {
		t.Errorf("sohoa_dossiers_digitized_total = %v, want %d", got, uploaded)
	}
	for reason, want := range map[string]float64{"low_dpi": 1, "encrypted": 1, "unreadable": 1, "empty": 1, "not_pdf": 1} {
		series := fmt.Sprintf(`sohoa_scans_rejected_total{reason=%q,ward="000.00.12.H57"}`, reason)
		if got := e.metric(series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Scans without a code wait; IT's alert reads how long the first has.
	waiting, since := 0, e.metric("sohoa_scans_unlinked_oldest_timestamp_seconds"+ward)
	for _, r := range rows {
		if _, err := os.Stat(filepath.Join(e.inbox, "Chờ mã hồ sơ", r.File)); err == nil {
			waiting++
		}
	}
	if got := e.metric("sohoa_scans_unlinked" + ward); waiting == 0 || got < float64(waiting) {
		t.Errorf("sohoa_scans_unlinked = %v with %d samples waiting", got, waiting)
	}
	if secs := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }; since < secs(start) || since > secs(time.Now()) {
		t.Errorf("sohoa_scans_unlinked_oldest_timestamp_seconds = %v, want a time within this test (%v..now)",
			since, secs(start))
	}
	// The scrape passes promtool's lint (Debian's prometheus package).
	t.Run("promtool", func(t *testing.T) {
		cmd := exec.Command(testenv.NeedTool(t, "promtool", "prometheus"), "check", "metrics")
		cmd.Stdin = strings.NewReader(e.metrics())
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}
