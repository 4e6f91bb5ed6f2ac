package search

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sohoa/sohoa/ingest/dossier"
)

// TestRun: the schedule pulls at once over the lookback window ending
// today in Vietnam (already the 18th at 01:30 there when UTC is still on
// the 17th), retries a pull whose rows could not be stored after a short
// backoff, then waits the interval; the metrics say so.
func TestRun(t *testing.T) {
	p := newLGSP(t, "t")
	p.db = wardDossiers(ward, 25)
	reg := prometheus.NewPedanticRegistry()
	c := lgspConfig(p, grammar(t))
	c.Auth, c.Registerer, c.LookbackDays = bearer(t, "t"), reg, 2
	now := time.Date(2020, 3, 17, 18, 30, 0, 0, time.UTC)
	c.Now = func() time.Time { return now }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	c.Sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 3 {
			cancel()
			return ctx.Err()
		}
		now = now.Add(d)
		return nil
	}
	var stored [][]dossier.Record
	sink := func(_ context.Context, rows []dossier.Record) error {
		stored = append(stored, rows)
		if len(stored) == 1 {
			return errors.New("database is locked")
		}
		return nil
	}
	newPuller(t, c).Run(ctx, sink)

	if want := []time.Duration{time.Second, time.Hour, time.Hour}; !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	// 25 dossiers from 16/03 on, 7 a day: 16 to 18 March hold 21.
	if len(stored) != 3 || len(stored[2]) != 21 {
		t.Fatalf("sink got %d pulls (want 3), last with %d rows (want 21)", len(stored), len(stored[len(stored)-1]))
	}
	if got := p.requests(); got[0] != "page=1 from=16/03/2020 to=18/03/2020" {
		t.Errorf("first request %q, want the window 16/03 to 18/03", got[0])
	}
	last := time.Date(2020, 3, 17, 19, 30, 1, 0, time.UTC).Unix()
	want := fmt.Sprintf(`
# HELP sohoa_registry_pull_last_success_timestamp_seconds Unix time at which the last pull from the provincial system's search API was stored; 0 before the first.
# TYPE sohoa_registry_pull_last_success_timestamp_seconds gauge
sohoa_registry_pull_last_success_timestamp_seconds{ward="000.00.12.H57"} %d
# HELP sohoa_registry_pulled_dossiers_total Dossiers of this ward handed to the registry by pulls (a dossier counts once per pull that returned it).
# TYPE sohoa_registry_pulled_dossiers_total counter
sohoa_registry_pulled_dossiers_total{ward="000.00.12.H57"} 42
# HELP sohoa_registry_pulls_total Pulls of received dossiers from the provincial system's search API, by result (success, incomplete, failure).
# TYPE sohoa_registry_pulls_total counter
sohoa_registry_pulls_total{result="failure",ward="000.00.12.H57"} 1
sohoa_registry_pulls_total{result="incomplete",ward="000.00.12.H57"} 0
sohoa_registry_pulls_total{result="success",ward="000.00.12.H57"} 2
`, last)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_registry_pulls_total",
		"sohoa_registry_pull_last_success_timestamp_seconds", "sohoa_registry_pulled_dossiers_total"); err != nil {
		t.Error(err)
	}
	// Every metric of the pull carries the ward label, as every sohoa_
	// metric does.
	families, err := reg.Gather()
	if err != nil || len(families) != 4 {
		t.Fatalf("gathered %d families (want 4): %v", len(families), err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			ward := false
			for _, l := range m.GetLabel() {
				ward = ward || l.GetName() == "ward" && l.GetValue() == "000.00.12.H57"
			}
			if !ward {
				t.Errorf("%s %v has no ward label", f.GetName(), m.GetLabel())
			}
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}
}

// TestRunCancelled: a cancelled context ends Run while a request hangs.
func TestRunCancelled(t *testing.T) {
	p := newLGSP(t, "t")
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	p.fault = func(int, http.ResponseWriter, *http.Request) bool { cancel(); <-release; return true }
	c := lgspConfig(p, grammar(t))
	c.Auth = bearer(t, "t")
	done := make(chan struct{})
	go func() {
		newPuller(t, c).Run(ctx, func(context.Context, []dossier.Record) error { return nil })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}
