package ingest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/sandbox"
	"github.com/sohoa/sohoa/ingest/store"
)

// restart makes a new Ingester on the fixture's store and folders, as the
// daemon started again after IT edited its settings (edit, may be nil).
func (f *fixture) restart(edit func(*Config)) {
	f.t.Helper()
	cfg := f.in.cfg
	if edit != nil {
		edit(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.in = in
}

// jobsByDossier returns the queued jobs, by dossier.
func (f *fixture) jobsByDossier() map[string]store.Job {
	f.t.Helper()
	due, _, err := f.st.Jobs(time.Now().Add(time.Hour), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]store.Job{}
	for _, j := range due {
		if _, ok := out[j.Dossier]; ok {
			f.t.Errorf("two jobs for %s", j.Dossier)
		}
		out[j.Dossier] = j
	}
	return out
}

const (
	d31 = "000.00.12.H57-200320-0031"
	d32 = "000.00.12.H57-200320-0032"
	d33 = "000.00.12.H57-200320-0033"
)

// TestSameContentForAnotherDossier: one ID card scan saved for dossier 0031
// and again for 0032 (by name) and 0033 (by folder) is queued once for
// each; saved again for 0032 it is a duplicate.
func TestSameContentForAnotherDossier(t *testing.T) {
	f := newFixture(t)
	for _, rel := range []string{d31 + " CCCD.pdf", d32 + " CCCD.pdf", d33 + "/CCCD.pdf", "bản sao " + d32 + ".pdf"} {
		p := f.drop("scan_0009.pdf", rel)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
		if exists(p) {
			t.Errorf("%s left in the inbox", rel)
		}
	}
	jobs := f.jobsByDossier()
	if len(jobs) != 3 || jobs[d31].SHA256 == "" || jobs[d32].SHA256 != jobs[d31].SHA256 || jobs[d33].SHA256 != jobs[d31].SHA256 {
		t.Fatalf("jobs %+v", jobs)
	}
	if jobs[d32].Name != d32+" CCCD.pdf" || jobs[d33].Name != "CCCD.pdf" {
		t.Errorf("names %q, %q: each dossier gets the name it was saved under", jobs[d32].Name, jobs[d33].Name)
	}
	if s := f.stats(); s.Scans != 1 || s.Duplicates != 1 || s.QueueLength != 3 || f.queued != 3 {
		t.Errorf("stats %+v, queued %d", s, f.queued)
	}
	sha := jobs[d31].SHA256
	sc, _ := f.st.Scan(sha)
	if !slices.Equal(sc.Dossiers, []string{d31, d32, d33}) || sc.State != store.Queued || sc.Pending != 3 {
		t.Errorf("record %+v", sc)
	}
	// Each pair is uploaded and counted.
	for _, j := range jobs {
		if err := f.st.Done(j, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sc, _ = f.st.Scan(sha)
	if sc.State != store.Uploaded || len(sc.UploadedTo) != 3 {
		t.Errorf("after the uploads: %+v", sc)
	}
	if s := f.stats(); s.DossiersDigitized != 3 || s.Uploads != 3 {
		t.Errorf("digitized %d, uploads %d; want 3 and 3", s.DossiersDigitized, s.Uploads)
	}
}

// TestAnotherDossierAgainstItsReceipt: a scan whose receipt names its
// dossier, saved again under another dossier's code, is not uploaded for
// that one: the name and the receipt disagree, as they would on a new scan.
func TestAnotherDossierAgainstItsReceipt(t *testing.T) {
	f := newFixture(t)
	for _, rel := range []string{"000.00.12.H57-200320-0003.pdf", d31 + ".pdf"} {
		f.drop("scan_0003.pdf", rel)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	if jobs := f.jobsByDossier(); len(jobs) != 1 || jobs["000.00.12.H57-200320-0003"].SHA256 == "" {
		t.Errorf("jobs %v, want the receipt's dossier's only", jobs)
	}
	if s := f.stats(); s.Duplicates != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestAnotherDossierAfterArchive: a content uploaded and archived, saved
// for another dossier, has its copies brought back and the repaired one
// uploaded for it; once the archive has pruned them, the file as saved
// (taken again) is.
func TestAnotherDossierAfterArchive(t *testing.T) {
	f := newFixture(t)
	sane := "000.00.12.H57-200322-0001.pdf" // broken xref: repaired
	f.drop(sane, sane)
	if err := f.ingest(sane); err != nil {
		t.Fatal(err)
	}
	upload := func() store.Job {
		t.Helper()
		jobs := f.jobsByDossier()
		if len(jobs) != 1 {
			t.Fatalf("%d jobs, want 1", len(jobs))
		}
		for _, j := range jobs {
			if got, _, err := hashFile(f.in.ContentPath(j)); err != nil || got != j.Content {
				t.Fatalf("job for %s: %s delivers %s, want %s (%v)", j.Dossier, f.in.ContentPath(j), got, j.Content, err)
			}
			if err := f.st.Done(j, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := f.in.ArchiveUploaded(j.SHA256); err != nil {
				t.Fatal(err)
			}
			return j
		}
		return store.Job{}
	}
	first := upload()
	if entries, _ := os.ReadDir(filepath.Join(f.data, "spool")); len(entries) != 0 {
		t.Fatalf("spool after the archive: %v", entries)
	}
	rel := d31 + " bản sao.pdf"
	f.drop(sane, rel)
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	j := upload()
	if j.Dossier != d31 || !j.Repaired || j.Content != first.Content || j.Content == j.SHA256 {
		t.Errorf("job for the second dossier %+v, first %+v", j, first)
	}

	// Pruned from the archive: the new dossier gets the file as saved.
	entries, _ := os.ReadDir(filepath.Join(f.data, "archive"))
	for _, e := range entries {
		os.Remove(filepath.Join(f.data, "archive", e.Name()))
	}
	rel = d32 + ".pdf"
	f.drop(sane, rel)
	if err := f.ingest(rel); err != nil {
		t.Fatal(err)
	}
	j = upload()
	if j.Dossier != d32 || j.Repaired || j.Content != j.SHA256 {
		t.Errorf("job after the prune %+v", j)
	}
	sc, _ := f.st.Scan(j.SHA256)
	if len(sc.UploadedTo) != 3 || sc.State != store.Uploaded {
		t.Errorf("record %+v", sc)
	}
}

// TestLostDatabaseGivesSpoolBack: the database moved away, the queued scans'
// spool files have no record; at start they go back to the inbox, counted,
// and are taken again; a spool file whose content the inbox still holds
// (a take cut short) is removed, and that file is taken again.
func TestLostDatabaseGivesSpoolBack(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"000.00.12.H57-200320-0001.pdf", "HS 000.00.12.H57-200320-0002 to khai.pdf"} {
		f.drop(name, name)
		if err := f.ingest(name); err != nil {
			t.Fatal(err)
		}
	}
	// A third one whose take was cut short: in the spool, still in the inbox.
	cut := f.drop("duplex_0001.pdf", "000.00.12.H57-200321-0004.pdf")
	cutSHA, _, _ := hashFile(cut)
	b, _ := os.ReadFile(cut)
	os.WriteFile(f.in.SpoolPath(cutSHA, false), b, 0o640)

	// The database is lost: a new, empty one in its place.
	f.st.Close()
	db := filepath.Join(f.data, "sohoa.db")
	if err := os.Rename(db, db+".moved"); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.restart(func(c *Config) { c.Store = st })
	if err := f.in.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	back, _ := filepath.Glob(filepath.Join(f.inbox, "khoi-phuc-*.pdf"))
	if len(back) != 2 {
		t.Fatalf("given back to the inbox: %v", back)
	}
	if exists(f.in.SpoolPath(cutSHA, false)) || !exists(cut) {
		t.Error("the spool copy of the file still in the inbox stays, or that file went")
	}
	if s := f.stats(); s.SpoolRecovered != 2 {
		t.Errorf("spool recovered %d, want 2", s.SpoolRecovered)
	}
	for _, p := range append(back, cut) {
		rel, _ := filepath.Rel(f.inbox, p)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	// No code in their new names: they wait for a person, with their note.
	waiting, _ := f.st.WaitingScans()
	if len(waiting) != 2 {
		t.Errorf("%d waiting, want the 2 given back", len(waiting))
	}
	for _, sc := range waiting {
		if !exists(filepath.Join(f.inbox, filepath.FromSlash(sc.Place)) + ".txt") {
			t.Errorf("%s waits without its note", sc.Place)
		}
	}
	if jobs := f.jobsByDossier(); len(jobs) != 1 {
		t.Errorf("jobs %v, want the one taken again", jobs)
	}
}

// switchChecker checks with one of two real parser pools: a PC so loaded
// that a check times out, then one that is not.
type switchChecker struct {
	loaded, normal *sandbox.Pool
	calm           atomic.Bool
}

func (c *switchChecker) Check(ctx context.Context, src, dst string) (pdfcheck.Result, error) {
	if c.calm.Load() {
		return c.normal.Check(ctx, src, dst)
	}
	return c.loaded.Check(ctx, src, dst)
}

func newParser(t *testing.T, timeout time.Duration) *sandbox.Pool {
	t.Helper()
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{parserEnv},
		Check: pdfcheck.Limits{MinDPI: 200, MaxBytes: 30 << 20}, Limits: sandbox.Limits{Timeout: timeout}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestParserLimitIsRetried: a check the parser does not survive (here: a
// timeout on a loaded PC) leaves the file in the inbox, to be checked again
// at the next rescans; a good file then passes. Only the third such check
// rejects it, for good. A parser_limit recorded after one death (by an
// older version) is judged again when the file is dropped again.
func TestParserLimitIsRetried(t *testing.T) {
	f := newFixture(t)
	c := &switchChecker{loaded: newParser(t, time.Millisecond), normal: newParser(t, time.Minute)}
	f.restart(func(cfg *Config) { cfg.Checker = c })

	name := "000.00.12.H57-200320-0001.pdf"
	p := f.drop(name, name)
	for try := 1; try <= 2; try++ {
		if err := f.ingest(name); !errors.Is(err, errCheckAgain) {
			t.Fatalf("try %d: %v, want the file checked again later", try, err)
		}
		if !exists(p) || exists(filepath.Join(f.inbox, "Lỗi", name)) {
			t.Fatalf("try %d: the file left the inbox", try)
		}
	}
	if s := f.stats(); s.Scans != 0 || s.Rejected[reason.ParserLimit] != 0 {
		t.Errorf("stats after two parser deaths: %+v", s)
	}
	c.calm.Store(true)
	if err := f.ingest(name); err != nil {
		t.Fatal(err)
	}
	if jobs := f.jobsByDossier(); len(jobs) != 1 || exists(p) {
		t.Errorf("jobs %v after a calm check", jobs)
	}

	// Three deaths: rejected, and final.
	c.calm.Store(false)
	other := "HS 000.00.12.H57-200320-0002 to khai.pdf"
	f.drop(other, other)
	for try := 1; try <= 2; try++ {
		if err := f.ingest(other); !errors.Is(err, errCheckAgain) {
			t.Fatalf("try %d: %v", try, err)
		}
	}
	if err := f.ingest(other); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(f.inbox, "Lỗi", other)) {
		t.Fatal("not rejected after three parser deaths")
	}
	c.calm.Store(true)
	again := "lần 2 " + other
	f.drop(other, again)
	if err := f.ingest(again); err != nil {
		t.Fatal(err)
	}
	if s := f.stats(); s.Rejected[reason.ParserLimit] != 1 || s.Duplicates != 1 || !exists(filepath.Join(f.inbox, "Lỗi", again)) {
		t.Errorf("dropped again after the final verdict: %+v", s)
	}

	// A verdict after one death, as an older version recorded it.
	sane := "000.00.12.H57-200322-0001.pdf"
	sp := f.drop(sane, sane)
	sha, size, _ := hashFile(sp)
	os.Remove(sp)
	err := f.st.Record(store.Scan{SHA256: sha, Size: size, Name: sane, Source: sane, State: store.Rejected,
		Reason: reason.ParserLimit, Detail: "parser limit: timeout", Dossiers: []string{"000.00.12.H57-200322-0001"},
		Seen: time.Now(), Settled: true, Place: "Lỗi/" + sane})
	if err != nil {
		t.Fatal(err)
	}
	f.drop(sane, sane)
	if err := f.ingest(sane); err != nil {
		t.Fatal(err)
	}
	if sc, _ := f.st.Scan(sha); sc.State != store.Queued {
		t.Errorf("an old parser_limit verdict dropped again: %s %s", sc.State, sc.Reason)
	}
}

// TestSettingsVerdictJudgedAgain: a file rejected as too large, or below
// the minimum resolution, dropped again after IT changed the setting, is
// judged under the settings in force; under the same settings it is
// rejected content dropped again.
func TestSettingsVerdictJudgedAgain(t *testing.T) {
	f := newFixture(t)
	f.restart(func(c *Config) { c.MaxBytes = 300 << 10 }) // the lowres sample is under it, the other over
	big := "000.00.12.H57-200320-0001.pdf"
	f.drop(big, big)
	if err := f.ingest(big); err != nil {
		t.Fatal(err)
	}
	low := "000.00.12.H57-200321-0005.pdf"
	f.drop("lowres_0001.pdf", low)
	if err := f.ingest(low); err != nil {
		t.Fatal(err)
	}
	// Dropped again, nothing changed.
	f.drop("lowres_0001.pdf", "lần 2 "+low)
	if err := f.ingest("lần 2 " + low); err != nil {
		t.Fatal(err)
	}
	s := f.stats()
	if s.Rejected[reason.TooLarge] != 1 || s.Rejected[reason.LowDPI] != 1 || s.Duplicates != 1 || s.QueueLength != 0 {
		t.Fatalf("stats %+v", s)
	}
	// IT raises check.max_bytes and lowers check.min_dpi.
	f.restart(func(c *Config) {
		c.MaxBytes = 30 << 20
		c.Checker = &pdfcheck.Checker{Limits: pdfcheck.Limits{MinDPI: 72, MaxBytes: 30 << 20}}
	})
	for _, rel := range []string{"lần 2 " + big, "lần 3 " + low} {
		sample := big
		if strings.Contains(rel, low) {
			sample = "lowres_0001.pdf"
		}
		f.drop(sample, rel)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	jobs := f.jobsByDossier()
	if len(jobs) != 2 || jobs["000.00.12.H57-200320-0001"].SHA256 == "" || jobs["000.00.12.H57-200321-0005"].SHA256 == "" {
		t.Errorf("jobs %v, want both judged again and queued", jobs)
	}
	// Three files taken: the one too large was judged by its size alone and
	// not recorded, so its second drop is a new scan, not a duplicate.
	if s := f.stats(); s.Scans != 3 || s.Duplicates != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestRejectedAndHeldDossiersCountAsReceived: without a registry, a
// dossier whose only scans were rejected or held counts as received (on its
// code's date), not digitized; so does a code a rejected content is saved
// again under.
func TestRejectedAndHeldDossiersCountAsReceived(t *testing.T) {
	f := newFixture(t)
	drops := map[string]string{
		"000.00.12.H57-200320-0001.pdf":                           "000.00.12.H57-200320-0001.pdf", // queued
		"000.00.12.H57-200321-0005.pdf":                           "lowres_0001.pdf",               // rejected
		"000.00.12.H57-200321-0006 000.00.12.H57-200321-0007.pdf": "scan_0009.pdf",                 // held: two codes
		"000.00.12.H57-200321-0008 lần 2.pdf":                     "lowres_0001.pdf",               // rejected, dropped again
	}
	for _, rel := range []string{"000.00.12.H57-200320-0001.pdf", "000.00.12.H57-200321-0005.pdf",
		"000.00.12.H57-200321-0006 000.00.12.H57-200321-0007.pdf", "000.00.12.H57-200321-0008 lần 2.pdf"} {
		f.drop(drops[rel], rel)
		if err := f.ingest(rel); err != nil {
			t.Fatal(err)
		}
	}
	// A file over check.max_bytes is rejected by its size, unread: its
	// name's code counts as received all the same.
	f.restart(func(c *Config) { c.MaxBytes = 1 << 10 })
	tooLarge := "000.00.12.H57-200321-0009.pdf"
	f.drop("000.00.12.H57-200320-0001.pdf", tooLarge)
	if err := f.ingest(tooLarge); err != nil {
		t.Fatal(err)
	}
	list, _, err := f.st.Received("000.00.12.H57")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.ReceivedDossier{}
	for _, d := range list {
		got[d.Code] = d
	}
	for _, code := range []string{"000.00.12.H57-200320-0001", "000.00.12.H57-200321-0005", "000.00.12.H57-200321-0006",
		"000.00.12.H57-200321-0007", "000.00.12.H57-200321-0008", "000.00.12.H57-200321-0009"} {
		d, ok := got[code]
		want, _ := dossier.Received(code, dossier.ICT())
		if !ok || !d.Received.Equal(want) || !d.Digitized.IsZero() {
			t.Errorf("%s: received %v (want %v), digitized %v, listed %v", code, d.Received, want, d.Digitized, ok)
		}
	}
	if len(list) != 6 {
		t.Errorf("%d received, want 6", len(list))
	}
}
