package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSameScanForTwoDossiers: one ID card scan saved for dossier 0031 and
// again for 0032 reaches both dossiers' folders and counts for both; saved
// again for 0031 it is a duplicate.
func TestSameScanForTwoDossiers(t *testing.T) {
	e := newEnv(t)
	e.start()
	const d31, d32 = "000.00.12.H57-200320-0031", "000.00.12.H57-200320-0032"
	drop := func(rel string) {
		variant(t, "scan_0009.pdf", filepath.Join(e.inbox, filepath.FromSlash(rel)), 1)
		e.waitFor(rel+" to leave the inbox", 30*time.Second, func() bool {
			_, err := os.Lstat(filepath.Join(e.inbox, filepath.FromSlash(rel)))
			return err != nil
		})
	}
	drop(d31 + " CCCD.pdf")
	drop(d32 + " CCCD.pdf")
	drop(d31 + "/CCCD bản sao.pdf")
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("two uploads", 30*time.Second, func() bool { return e.metric("sohoa_uploads_total"+ward) == 2 })
	got := e.outboxFiles()
	if len(got) != 2 || got[d31+"/"+d31+" CCCD.pdf"] == "" || got[d32+"/"+d32+" CCCD.pdf"] == "" {
		t.Errorf("outbox %v", got)
	}
	for series, want := range map[string]float64{"sohoa_dossiers_digitized_total": 2, "sohoa_scans_total": 1,
		"sohoa_scans_duplicate_total": 1, "sohoa_dossiers_received_total": 2} {
		if v := e.metric(series + ward); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if !strings.Contains(e.logText(), "content saved again for another dossier; queued for it") {
		t.Error("no log line for the second dossier")
	}
}

// TestLostDatabaseGivesQueueBack: scans queued while the sink is down, then
// the database moved away: at the next start their spool files are given
// back to the inbox, never deleted, logged and counted, and taken again
// (held for a code: their names are lost with the database).
func TestLostDatabaseGivesQueueBack(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  retry: {min_backoff: 1s, max_backoff: 5s}
  dir: {path: %q}
`, filepath.Join(e.dir, "share not mounted")))
	e.start()
	for i := 1; i <= 3; i++ {
		variant(t, "000.00.12.H57-200320-0001.pdf", filepath.Join(e.inbox, fmt.Sprintf("000.00.12.H57-200323-%04d.pdf", i)), i)
	}
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("three queued", 30*time.Second, func() bool { return e.metric("sohoa_upload_queue_length"+ward) == 3 })
	e.stop()
	db := filepath.Join(e.data, "sohoa.db")
	if err := os.Rename(db, db+".moved"); err != nil {
		t.Fatal(err)
	}
	e.start()
	if !strings.Contains(e.logText(), "returned_to_inbox=3") {
		t.Errorf("no spool recovered line giving three back:\n%s", e.logText())
	}
	if v := e.metric("sohoa_spool_recovered_total" + ward); v != 3 {
		t.Errorf("sohoa_spool_recovered_total = %v, want 3", v)
	}
	e.waitFor("three waiting for a code", 30*time.Second, func() bool { return e.metric("sohoa_scans_unlinked"+ward) == 3 })
	notes, _ := filepath.Glob(filepath.Join(e.inbox, "Chờ mã hồ sơ", "khoi-phuc-*.pdf.txt"))
	if len(notes) != 3 {
		t.Errorf("%d notes in the waiting folder, want 3", len(notes))
	}
}
