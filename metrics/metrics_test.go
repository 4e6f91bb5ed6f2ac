package metrics

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
	"github.com/sohoa/sohoa/ingest/upload"
)

const ward = "000.00.12.H57"

// fakeSource returns fixed stats, or err when set.
type fakeSource struct {
	st    store.Stats
	since time.Time
	err   error
}

func (f *fakeSource) Stats() (store.Stats, error)       { return f.st, f.err }
func (f *fakeSource) UnlinkedSince() (time.Time, error) { return f.since, f.err }

// storeNames are the metrics read from the store at scrape time.
var storeNames = []string{
	"sohoa_dossiers_digitized_total",
	"sohoa_scans_total",
	"sohoa_scans_rejected_total",
	"sohoa_scans_duplicate_total",
	"sohoa_scans_unlinked",
	"sohoa_scans_unlinked_oldest_timestamp_seconds",
	"sohoa_scans_abandoned",
	"sohoa_upload_queue_length",
	"sohoa_upload_queue_bytes",
	"sohoa_upload_queue_oldest_timestamp_seconds",
	"sohoa_uploads_total",
	"sohoa_upload_bytes_total",
	"sohoa_upload_failures_total",
	"sohoa_last_upload_success_timestamp_seconds",
}

func newMetrics(t *testing.T, src StatsSource, log *slog.Logger) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(Config{Ward: ward, WardName: "Phường Hương Văn", Build: Build{Version: "1.2.3", Revision: "abc123", Branch: "main", Tags: "netgo"},
		Source: src, Registerer: reg, Logger: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

// TestEveryMetricHasWard: a province's Prometheus tells the wards apart by
// the ward label alone, so every sohoa_ series carries it, build and ward
// information included.
func TestEveryMetricHasWard(t *testing.T) {
	m, reg := newMetrics(t, &fakeSource{st: store.Stats{Scans: 1}}, nil)
	m.ObserveUpload(upload.Attempt{Bytes: 1 << 20, Duration: time.Second})
	m.ObserveUpload(upload.Attempt{Duration: time.Second, Kind: upload.KindTimeout})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "sohoa_") {
			continue
		}
		for _, mt := range f.GetMetric() {
			seen++
			var got string
			for _, l := range mt.GetLabel() {
				if l.GetName() == "ward" {
					got = l.GetValue()
				}
			}
			if got != ward {
				t.Errorf("%s%v: ward %q, want %q", f.GetName(), mt.GetLabel(), got, ward)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no sohoa_ series gathered")
	}
}

// helps are the HELP lines of the store-backed metrics, for the expected texts.
const helps = `
# HELP sohoa_dossiers_digitized_total Dossiers with at least one scan confirmed uploaded by the sink.
# TYPE sohoa_dossiers_digitized_total counter
# HELP sohoa_scans_total Files taken in from the scanner folder, each content once, whatever became of them (rejected ones included); repeats of a known content count in sohoa_scans_duplicate_total instead.
# TYPE sohoa_scans_total counter
# HELP sohoa_scans_rejected_total Scans that cannot be uploaded as they are, by reason; staff find them in the errors folder with an explanation in Vietnamese.
# TYPE sohoa_scans_rejected_total counter
# HELP sohoa_scans_duplicate_total Files whose content had already been recorded; they are neither recorded nor uploaded again.
# TYPE sohoa_scans_duplicate_total counter
# HELP sohoa_scans_unlinked Valid scans waiting for a person to give them one dossier code of this ward (no code, several codes, or another unit's code in the name), whose file is still in the inbox.
# TYPE sohoa_scans_unlinked gauge
# HELP sohoa_scans_unlinked_oldest_timestamp_seconds Unix time at which the scan that has waited longest for a dossier code (of those in sohoa_scans_unlinked) was recorded; 0 when none waits.
# TYPE sohoa_scans_unlinked_oldest_timestamp_seconds gauge
# HELP sohoa_scans_abandoned Valid scans that waited for a dossier code and whose file staff removed from the inbox without one (deleted, or moved out); never uploaded. A file put back waits again.
# TYPE sohoa_scans_abandoned gauge
# HELP sohoa_upload_queue_length Uploads waiting for the sink (one per scan and dossier), including those waiting to retry.
# TYPE sohoa_upload_queue_length gauge
# HELP sohoa_upload_queue_bytes Total size of the files waiting in the upload queue.
# TYPE sohoa_upload_queue_bytes gauge
# HELP sohoa_upload_queue_oldest_timestamp_seconds Unix time at which the oldest upload still waiting was queued; 0 when the queue is empty.
# TYPE sohoa_upload_queue_oldest_timestamp_seconds gauge
# HELP sohoa_uploads_total Uploads confirmed by the sink, one per scan and dossier.
# TYPE sohoa_uploads_total counter
# HELP sohoa_upload_bytes_total Bytes of the uploads confirmed by the sink.
# TYPE sohoa_upload_bytes_total counter
# HELP sohoa_upload_failures_total Failed upload attempts by kind of failure; the upload stays queued and is retried with backoff.
# TYPE sohoa_upload_failures_total counter
# HELP sohoa_last_upload_success_timestamp_seconds Unix time of the last upload confirmed by the sink; 0 if none ever was.
# TYPE sohoa_last_upload_success_timestamp_seconds gauge
`

func TestStoreBackedMetrics(t *testing.T) {
	src := &fakeSource{st: store.Stats{
		Scans:             42,
		Duplicates:        3,
		Unlinked:          2,
		Abandoned:         6,
		Rejected:          map[reason.Code]uint64{reason.LowDPI: 5, reason.Encrypted: 1, "from_the_future": 4},
		QueueLength:       4,
		QueueBytes:        123456,
		QueueOldest:       time.Unix(1773993600, 0),
		Uploads:           30,
		UploadBytes:       9876543,
		UploadFailures:    map[string]uint64{upload.KindNetwork: 7, upload.KindTimeout: 2},
		DossiersDigitized: 25,
		LastUploadSuccess: time.Unix(1773997200, 500_000_000),
	}, since: time.Unix(1773990000, 0)}
	_, reg := newMetrics(t, src, nil)
	want := helps + `
sohoa_dossiers_digitized_total{ward="000.00.12.H57"} 25
sohoa_scans_total{ward="000.00.12.H57"} 42
sohoa_scans_rejected_total{reason="not_regular",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="empty",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="not_pdf",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="unreadable",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="encrypted",ward="000.00.12.H57"} 1
sohoa_scans_rejected_total{reason="no_pages",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="low_dpi",ward="000.00.12.H57"} 5
sohoa_scans_rejected_total{reason="too_large",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="parser_limit",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="not_color",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="from_the_future",ward="000.00.12.H57"} 4
sohoa_scans_duplicate_total{ward="000.00.12.H57"} 3
sohoa_scans_unlinked{ward="000.00.12.H57"} 2
sohoa_scans_unlinked_oldest_timestamp_seconds{ward="000.00.12.H57"} 1773990000
sohoa_scans_abandoned{ward="000.00.12.H57"} 6
sohoa_upload_queue_length{ward="000.00.12.H57"} 4
sohoa_upload_queue_bytes{ward="000.00.12.H57"} 123456
sohoa_upload_queue_oldest_timestamp_seconds{ward="000.00.12.H57"} 1773993600
sohoa_uploads_total{ward="000.00.12.H57"} 30
sohoa_upload_bytes_total{ward="000.00.12.H57"} 9876543
sohoa_upload_failures_total{kind="filesystem",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="network",ward="000.00.12.H57"} 7
sohoa_upload_failures_total{kind="timeout",ward="000.00.12.H57"} 2
sohoa_upload_failures_total{kind="http_4xx",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="http_5xx",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="auth",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="source",ward="000.00.12.H57"} 0
sohoa_last_upload_success_timestamp_seconds{ward="000.00.12.H57"} 1773997200.5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), storeNames...); err != nil {
		t.Fatal(err)
	}
}

// An empty database (nil maps, zero times) still shows every reason and
// kind at zero, and the timestamps as 0.
func TestStoreBackedMetricsEmpty(t *testing.T) {
	_, reg := newMetrics(t, &fakeSource{}, nil)
	var want strings.Builder
	want.WriteString(helps)
	for _, name := range []string{"sohoa_dossiers_digitized_total", "sohoa_scans_total",
		"sohoa_scans_duplicate_total", "sohoa_scans_unlinked", "sohoa_scans_unlinked_oldest_timestamp_seconds",
		"sohoa_scans_abandoned", "sohoa_upload_queue_length",
		"sohoa_upload_queue_bytes", "sohoa_upload_queue_oldest_timestamp_seconds", "sohoa_uploads_total",
		"sohoa_upload_bytes_total", "sohoa_last_upload_success_timestamp_seconds"} {
		want.WriteString(name + `{ward="000.00.12.H57"} 0` + "\n")
	}
	for _, r := range reason.Rejections {
		want.WriteString(`sohoa_scans_rejected_total{reason="` + string(r) + `",ward="000.00.12.H57"} 0` + "\n")
	}
	for _, k := range upload.Kinds {
		want.WriteString(`sohoa_upload_failures_total{kind="` + k + `",ward="000.00.12.H57"} 0` + "\n")
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), storeNames...); err != nil {
		t.Fatal(err)
	}
}

// The counts come from a real store, as the daemon wires it.
func TestRealStore(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	t0 := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC) // Unix 1773993600
	sha := func(c byte) string { return strings.Repeat(string(c), 64) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Record(store.Scan{SHA256: sha('a'), Size: 10, Name: "a.pdf", State: store.Rejected,
		Reason: reason.LowDPI, Seen: t0}))
	must(st.Record(store.Scan{SHA256: sha('b'), Size: 20, Name: "b.pdf", State: store.Rejected,
		Reason: reason.LowDPI, Seen: t0}))
	must(st.Record(store.Scan{SHA256: sha('c'), Size: 1000, Name: "c.pdf", State: store.Queued,
		Dossiers: []string{"000.00.12.H57-260320-0001", "000.00.12.H57-260320-0002"}, Seen: t0.Add(time.Minute)}))
	must(st.Record(store.Scan{SHA256: sha('d'), Size: 30, Name: "d.pdf", State: store.Waiting,
		Reason: reason.NoCode, Seen: t0.Add(2 * time.Minute)}))
	must(st.Record(store.Scan{SHA256: sha('e'), Size: 40, Name: "e.pdf", State: store.Waiting,
		Reason: reason.NoCode, Seen: t0.Add(3 * time.Minute)}))
	must(st.Settle(sha('e'), "Chờ mã hồ sơ/e.pdf"))
	if ok, err := st.Abandon(sha('e'), "Chờ mã hồ sơ/e.pdf"); !ok || err != nil {
		t.Fatalf("abandon: %v, %v", ok, err)
	}
	must(st.CountDuplicate())

	jobs, _, err := st.Jobs(t0.Add(time.Hour), 10)
	must(err)
	if len(jobs) != 2 {
		t.Fatalf("got %d jobs, want 2", len(jobs))
	}
	t1 := t0.Add(time.Hour)
	must(st.Done(jobs[0], t1))
	must(st.Failed(jobs[1], upload.KindNetwork, t1.Add(time.Minute), "connection refused"))

	_, reg := newMetrics(t, st, nil)
	want := helps + `
sohoa_dossiers_digitized_total{ward="000.00.12.H57"} 1
sohoa_scans_total{ward="000.00.12.H57"} 5
sohoa_scans_rejected_total{reason="not_regular",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="empty",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="not_pdf",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="unreadable",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="encrypted",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="no_pages",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="low_dpi",ward="000.00.12.H57"} 2
sohoa_scans_rejected_total{reason="too_large",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="parser_limit",ward="000.00.12.H57"} 0
sohoa_scans_rejected_total{reason="not_color",ward="000.00.12.H57"} 0
sohoa_scans_duplicate_total{ward="000.00.12.H57"} 1
sohoa_scans_unlinked{ward="000.00.12.H57"} 1
sohoa_scans_unlinked_oldest_timestamp_seconds{ward="000.00.12.H57"} 1773993720
sohoa_scans_abandoned{ward="000.00.12.H57"} 1
sohoa_upload_queue_length{ward="000.00.12.H57"} 1
sohoa_upload_queue_bytes{ward="000.00.12.H57"} 1000
sohoa_upload_queue_oldest_timestamp_seconds{ward="000.00.12.H57"} 1773993660
sohoa_uploads_total{ward="000.00.12.H57"} 1
sohoa_upload_bytes_total{ward="000.00.12.H57"} 1000
sohoa_upload_failures_total{kind="filesystem",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="network",ward="000.00.12.H57"} 1
sohoa_upload_failures_total{kind="timeout",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="http_4xx",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="http_5xx",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="auth",ward="000.00.12.H57"} 0
sohoa_upload_failures_total{kind="source",ward="000.00.12.H57"} 0
sohoa_last_upload_success_timestamp_seconds{ward="000.00.12.H57"} 1773997200
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), storeNames...); err != nil {
		t.Fatal(err)
	}

	// A scrape reads the store afresh: the retried upload succeeds.
	jobs, _, err = st.Jobs(t1.Add(time.Hour), 10)
	must(err)
	if len(jobs) != 1 {
		t.Fatalf("got %d jobs, want 1", len(jobs))
	}
	must(st.Done(jobs[0], t1.Add(2*time.Minute)))
	for name, want := range map[string]float64{
		"sohoa_dossiers_digitized_total":              2,
		"sohoa_uploads_total":                         2,
		"sohoa_upload_bytes_total":                    2000,
		"sohoa_upload_queue_length":                   0,
		"sohoa_upload_queue_oldest_timestamp_seconds": 0,
		"sohoa_last_upload_success_timestamp_seconds": 1773997320,
	} {
		if got := gatherValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	// The waiting scan gets its code: none waits now.
	must(st.Link(sha('d'), []string{"000.00.12.H57-260320-0003"}, "000.00.12.H57-260320-0003.pdf",
		"000.00.12.H57-260320-0003.pdf", t1))
	if got := gatherValue(t, reg, "sohoa_scans_unlinked_oldest_timestamp_seconds"); got != 0 {
		t.Errorf("oldest unlinked scan at %v after the last one was linked, want 0", got)
	}
}

// gatherValue returns the value of the one series of a counter or gauge.
func gatherValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		if len(mf.Metric) != 1 {
			t.Fatalf("%s has %d series, want 1", name, len(mf.Metric))
		}
		if c := mf.Metric[0].Counter; c != nil {
			return c.GetValue()
		}
		return mf.Metric[0].Gauge.GetValue()
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

// A failed read leaves the store-backed metrics out of that scrape, logs
// and counts it; the next good read brings them back.
func TestStatsError(t *testing.T) {
	var logs bytes.Buffer
	src := &fakeSource{err: errors.New("read stats: disk on fire")}
	_, reg := newMetrics(t, src, slog.New(slog.NewTextHandler(&logs, nil)))

	n, err := testutil.GatherAndCount(reg, storeNames...)
	if err != nil {
		t.Fatalf("gather must not fail when the store does: %v", err)
	}
	if n != 0 {
		t.Errorf("%d store-backed series after a failed read, want none", n)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the failure was not logged; log:\n%s", logs.String())
	}
	const errsHelp = `
# HELP sohoa_stats_errors_total Scrapes in which sohoa could not read its database; those scrapes lack the database-backed sohoa_ metrics. The log says why.
# TYPE sohoa_stats_errors_total counter
`
	// Two failed scrapes so far; the second is counted in the very scrape
	// that lacks the metrics, not one scrape late.
	want := errsHelp + `sohoa_stats_errors_total{ward="000.00.12.H57"} 2` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_stats_errors_total"); err != nil {
		t.Fatal(err)
	}

	src.err = nil
	src.st = store.Stats{Scans: 7}
	if got := gatherValue(t, reg, "sohoa_scans_total"); got != 7 {
		t.Errorf("sohoa_scans_total = %v after recovery, want 7", got)
	}
	want = errsHelp + `sohoa_stats_errors_total{ward="000.00.12.H57"} 2` + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_stats_errors_total"); err != nil {
		t.Fatal(err)
	}
}

func TestObserveUpload(t *testing.T) {
	m, reg := newMetrics(t, &fakeSource{}, nil)
	m.ObserveUpload(upload.Attempt{Bytes: 1 << 20, Duration: 200 * time.Millisecond})
	m.ObserveUpload(upload.Attempt{Bytes: 1 << 20, Duration: 40 * time.Second})
	m.ObserveUpload(upload.Attempt{Bytes: 1 << 20, Duration: 3 * time.Second, Kind: upload.KindTimeout})
	m.ObserveUpload(upload.Attempt{Duration: -time.Second, Kind: upload.KindNetwork}) // clock stepped back

	want := `
# HELP sohoa_upload_duration_seconds Time taken by upload attempts since this process started, by outcome (success: the sink confirmed the file; failure: it will be retried).
# TYPE sohoa_upload_duration_seconds histogram
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.01"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.025"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.05"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.1"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.25"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="0.5"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="1"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="2.5"} 1
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="5"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="10"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="30"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="60"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="120"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="300"} 2
sohoa_upload_duration_seconds_bucket{outcome="failure",ward="000.00.12.H57",le="+Inf"} 2
sohoa_upload_duration_seconds_sum{outcome="failure",ward="000.00.12.H57"} 3
sohoa_upload_duration_seconds_count{outcome="failure",ward="000.00.12.H57"} 2
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.01"} 0
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.025"} 0
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.05"} 0
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.1"} 0
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.25"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="0.5"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="1"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="2.5"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="5"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="10"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="30"} 1
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="60"} 2
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="120"} 2
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="300"} 2
sohoa_upload_duration_seconds_bucket{outcome="success",ward="000.00.12.H57",le="+Inf"} 2
sohoa_upload_duration_seconds_sum{outcome="success",ward="000.00.12.H57"} 40.2
sohoa_upload_duration_seconds_count{outcome="success",ward="000.00.12.H57"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_upload_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

// Both outcomes exist at zero before the first upload.
func TestUploadDurationAtZero(t *testing.T) {
	_, reg := newMetrics(t, &fakeSource{}, nil)
	n, err := testutil.GatherAndCount(reg, "sohoa_upload_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d sohoa_upload_duration_seconds series, want 2 (success and failure)", n)
	}
}

func TestInfo(t *testing.T) {
	_, reg := newMetrics(t, &fakeSource{}, nil)
	want := `
# HELP sohoa_build_info The sohoa build running here, in its labels; always 1.
# TYPE sohoa_build_info gauge
sohoa_build_info{branch="main",goarch="` + runtime.GOARCH + `",goos="` + runtime.GOOS + `",goversion="` + runtime.Version() + `",revision="abc123",tags="netgo",version="1.2.3",ward="000.00.12.H57"} 1
# HELP sohoa_ward_info The ward this sohoa serves: ward is its agency code, name its name; always 1.
# TYPE sohoa_ward_info gauge
sohoa_ward_info{name="Phường Hương Văn",ward="000.00.12.H57"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_build_info", "sohoa_ward_info"); err != nil {
		t.Fatal(err)
	}

	// Without a version, the labels say so rather than being empty.
	reg = prometheus.NewRegistry()
	if _, err := New(Config{Ward: ward, Source: &fakeSource{}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	want = `
# HELP sohoa_build_info The sohoa build running here, in its labels; always 1.
# TYPE sohoa_build_info gauge
sohoa_build_info{branch="unknown",goarch="` + runtime.GOARCH + `",goos="` + runtime.GOOS + `",goversion="` + runtime.Version() + `",revision="unknown",tags="unknown",version="unknown",ward="000.00.12.H57"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_build_info"); err != nil {
		t.Fatal(err)
	}
}

func TestLint(t *testing.T) {
	m, reg := newMetrics(t, &fakeSource{st: store.Stats{
		Scans:          3,
		Rejected:       map[reason.Code]uint64{reason.Empty: 1},
		UploadFailures: map[string]uint64{upload.KindAuth: 1},
		QueueLength:    1, QueueBytes: 10, QueueOldest: time.Unix(1773993600, 0),
	}}, nil)
	m.ObserveUpload(upload.Attempt{Duration: time.Second})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{Source: &fakeSource{}}); err == nil {
		t.Error("New without a ward code succeeded")
	}
	if _, err := New(Config{Ward: ward}); err == nil {
		t.Error("New without a source succeeded")
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"x": "y"}, prometheus.NewRegistry())
	if _, err := New(Config{Ward: ward, Source: &fakeSource{}, Registerer: wrapped}); err == nil {
		t.Error("New with a registerer that cannot be gathered succeeded")
	}

	// nil Registerer: a registry of its own.
	m, err := New(Config{Ward: ward, Source: &fakeSource{}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Gatherer(), "sohoa_scans_total", "go_goroutines"); err != nil || n != 2 {
		t.Errorf("own registry: %d series, err %v; want 2", n, err)
	}

	// A registry that already has the Go and process collectors (like
	// prometheus.DefaultRegisterer) is fine.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if _, err := New(Config{Ward: ward, Source: &fakeSource{}, Registerer: reg}); err != nil {
		t.Errorf("New on a registry with Go and process collectors: %v", err)
	}

	// Registering twice fails, wraps the registry's error, and leaves
	// nothing half-registered behind.
	before, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Ward: ward, Source: &fakeSource{}, Registerer: reg})
	if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
		t.Errorf("second New: err = %v, want an AlreadyRegisteredError", err)
	}
	after, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("failed New changed the registry: %d families, had %d", len(after), len(before))
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHandler(t *testing.T) {
	m, _ := newMetrics(t, &fakeSource{st: store.Stats{Scans: 5}}, nil)
	var notReady error
	srv := httptest.NewServer(m.Handler(func() error { return notReady }))
	t.Cleanup(srv.Close)

	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Errorf("/metrics: %d", code)
	}
	for _, name := range append(storeNames, "sohoa_upload_duration_seconds_bucket", "sohoa_build_info",
		"sohoa_ward_info", "sohoa_stats_errors_total", "go_goroutines", "process_start_time_seconds") {
		if !strings.Contains(body, "\n"+name+"{") && !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if !strings.Contains(body, `sohoa_scans_total{ward="000.00.12.H57"} 5`) {
		t.Errorf("/metrics lacks the scans count:\n%s", body)
	}

	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	notReady = errors.New("upload folder \\\\server\\scans is not mounted")
	code, body = get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, notReady.Error()) {
		t.Errorf("/readyz when not ready: %d %q", code, body)
	}
	if code, body := get(t, srv.URL+"/"); code != http.StatusOK || !strings.Contains(body, "/metrics") {
		t.Errorf("/: %d %q", code, body)
	}
	for _, path := range []string{"/nope", "/debug/pprof/", "/metrics/x"} {
		if code, _ := get(t, srv.URL+path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}

	// A nil ready func means always ready.
	srv2 := httptest.NewServer(m.Handler(nil))
	t.Cleanup(srv2.Close)
	if code, _ := get(t, srv2.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with nil ready: %d", code)
	}
}

// promtool, from Debian's prometheus package, checks a real scrape.
func TestPromtool(t *testing.T) {
	promtool := testenv.NeedTool(t, "promtool", "prometheus")
	m, _ := newMetrics(t, &fakeSource{st: store.Stats{
		Scans:             3,
		Rejected:          map[reason.Code]uint64{reason.TooLarge: 1},
		QueueLength:       1,
		QueueBytes:        10,
		QueueOldest:       time.Unix(1773993600, 0),
		LastUploadSuccess: time.Unix(1773993600, 0),
	}}, nil)
	m.ObserveUpload(upload.Attempt{Duration: 1500 * time.Millisecond})
	srv := httptest.NewServer(m.Handler(nil))
	t.Cleanup(srv.Close)
	code, body := get(t, srv.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}

	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// Retried and parked uploads come from the store too, and a requeue shows
// at the next scrape.
func TestParkedAndRetries(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Date(2026, 3, 20, 8, 0, 0, 0, time.UTC)
	for i, c := range []string{"a", "b"} {
		if err := st.Record(store.Scan{SHA256: strings.Repeat(c, 64), Size: int64(100 * (i + 1)), Name: c + ".pdf",
			State: store.Queued, Dossiers: []string{"000.00.12.H57-260320-000" + c}, Seen: t0}); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _, err := st.Jobs(t0, 10)
	if err != nil || len(jobs) != 2 {
		t.Fatal(jobs, err)
	}
	if err := st.Failed(jobs[0], upload.KindHTTP5xx, t0.Add(time.Minute), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := st.Park(jobs[1], upload.KindHTTP4xx, 400, "HTTP 400 Bad Request: maHoSo unknown", t0); err != nil {
		t.Fatal(err)
	}
	_, reg := newMetrics(t, st, nil)
	for name, want := range map[string]float64{
		"sohoa_upload_retries_total": 1,
		"sohoa_upload_parked":        1,
		"sohoa_upload_parked_bytes":  200,
		"sohoa_upload_queue_length":  1,
	} {
		if got := gatherValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, err := st.Requeue(nil, false); err != nil {
		t.Fatal(err)
	}
	if got := gatherValue(t, reg, "sohoa_upload_parked"); got != 0 {
		t.Errorf("sohoa_upload_parked after requeue = %v", got)
	}
	if got := gatherValue(t, reg, "sohoa_upload_queue_length"); got != 2 {
		t.Errorf("sohoa_upload_queue_length after requeue = %v", got)
	}
}

func TestQueueMaxBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Ward: ward, Source: &fakeSource{}, Registerer: reg, QueueMaxBytes: 4 << 30}); err != nil {
		t.Fatal(err)
	}
	if got := gatherValue(t, reg, "sohoa_upload_queue_max_bytes"); got != 4<<30 {
		t.Errorf("sohoa_upload_queue_max_bytes = %v", got)
	}
	problems, err := testutil.GatherAndLint(reg, "sohoa_upload_queue_max_bytes")
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
