package metrics

import (
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
	"github.com/sohoa/sohoa/metrics/report"
)

func TestMonth(t *testing.T) {
	ict := dossier.ICT()
	for _, tc := range []struct {
		at          time.Time
		offset      int
		first, last string
	}{
		// 17:30 UTC on 31 March is already 1 April in Vietnam.
		{time.Date(2026, 3, 31, 17, 30, 0, 0, time.UTC), 0, "2026-04-01", "2026-04-30"},
		{time.Date(2026, 3, 31, 17, 30, 0, 0, time.UTC), -1, "2026-03-01", "2026-03-31"},
		{time.Date(2026, 3, 31, 16, 59, 0, 0, time.UTC), 0, "2026-03-01", "2026-03-31"},
		{time.Date(2026, 1, 15, 0, 0, 0, 0, ict), -1, "2025-12-01", "2025-12-31"},
		{time.Date(2024, 3, 10, 0, 0, 0, 0, ict), -1, "2024-02-01", "2024-02-29"},
	} {
		first, last := Month(tc.at, tc.offset)
		if got := first.Format(time.DateOnly) + " " + last.Format(time.DateOnly); got != tc.first+" "+tc.last {
			t.Errorf("Month(%v, %d) = %s, want %s %s", tc.at, tc.offset, got, tc.first, tc.last)
		}
	}
}

// TestCohortMetrics builds a real store with a registry and uploads across
// a month boundary and checks the gauges equal what report.Compute gives,
// with the current month decided in Vietnam time.
func TestCohortMetrics(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "s.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ict := dossier.ICT()
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 9, 0, 0, 0, ict) }
	_, err = st.PutRegistry([]dossier.Record{
		{Code: ward + "-260302-0001", Received: day(3, 2)},
		{Code: ward + "-260331-0001", Received: day(3, 31)},
		{Code: ward + "-260331-0002", Received: day(3, 31)},
		{Code: ward + "-260401-0001", Received: day(4, 1)},
		{Code: ward + "-260215-0001", Received: day(2, 15)},
		{Code: "000.00.01.H57-260401-0001", Received: day(4, 1)}, // another agency's
	}, store.SourceImport, day(4, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Scans: one of March's registry dossiers, and one April dossier known
	// only from its scan; both uploaded.
	for i, code := range []string{ward + "-260331-0001", ward + "-260401-0007"} {
		sc := store.Scan{SHA256: strings.Repeat(string(rune('a'+i)), 64), Size: 10, State: store.Queued,
			Dossiers: []string{code}, Seen: day(4, 1)}
		if err := st.Record(sc); err != nil {
			t.Fatal(err)
		}
	}
	jobs, _, err := st.Jobs(day(4, 2), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := st.Done(j, day(4, 1).Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	now := time.Date(2026, 4, 1, 3, 0, 0, 0, time.UTC) // 10:00 on 1 April in Vietnam
	reg := prometheus.NewRegistry()
	m, err := New(Config{Ward: ward, WardName: "Phường Hương Văn", Source: st, Registry: st,
		Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP sohoa_dossiers_received_total Dossiers this ward received: every code in its registry (imported or pulled from the provincial system) and every dossier known only from a scan's name, folder or receipt (rejected and held scans included); other agencies' codes are not counted.
# TYPE sohoa_dossiers_received_total counter
sohoa_dossiers_received_total{ward="000.00.12.H57"} 6
# HELP sohoa_dossiers_foreign Dossier codes of other agencies in the registry or on scans; not counted as received here (sohoa report names them).
# TYPE sohoa_dossiers_foreign gauge
sohoa_dossiers_foreign{ward="000.00.12.H57"} 1
# HELP sohoa_month_dossiers_received Dossiers received in the current or previous calendar month (Vietnam time), as sohoa report counts them.
# TYPE sohoa_month_dossiers_received gauge
sohoa_month_dossiers_received{month="current",ward="000.00.12.H57"} 2
sohoa_month_dossiers_received{month="previous",ward="000.00.12.H57"} 3
# HELP sohoa_month_dossiers_digitized Dossiers received in the current or previous calendar month (Vietnam time) that have a scan confirmed uploaded by now, as sohoa report counts them.
# TYPE sohoa_month_dossiers_digitized gauge
sohoa_month_dossiers_digitized{month="current",ward="000.00.12.H57"} 1
sohoa_month_dossiers_digitized{month="previous",ward="000.00.12.H57"} 1
`
	names := []string{"sohoa_dossiers_received_total", "sohoa_dossiers_foreign",
		"sohoa_month_dossiers_received", "sohoa_month_dossiers_digitized"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// The same figures as the report of those months.
	list, _, err := st.Received(ward)
	if err != nil {
		t.Fatal(err)
	}
	first, last := Month(now, -1)
	if row := report.Compute(ward, "", ReportDossiers(list), first, last, now); row.Received != 3 || row.Digitized != 1 {
		t.Errorf("report of March: %+v", row)
	}

	problems, err := testutil.GatherAndLint(reg, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool := testenv.NeedTool(t, "promtool", "prometheus")
	srv := httptest.NewServer(m.Handler(nil))
	t.Cleanup(srv.Close)
	_, body := get(t, srv.URL+"/metrics")
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
