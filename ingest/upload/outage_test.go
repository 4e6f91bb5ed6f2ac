package upload

import (
	"github.com/sohoa/sohoa/ingest/province"

	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestWeekLongOutage: the province refuses everything for a week (503 with
// Retry-After, then connection resets, then 502) while the counter keeps
// scanning, every twenty minutes of its working hours, and the queue stays
// under its cap, the other scans waiting in the inbox. Time is virtual
// (testing/synctest): the worker runs on its defaults, time.Now and
// time.After, and the week passes in seconds, time moving only when the
// worker, the store and the requests are all idle. The queue keeps every
// scan, the province sees one probe per backoff rather than one attempt per
// scan, and once it is back every scan is stored exactly once.
func TestWeekLongOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated week")
	}
	// The province runs outside the bubble, on real time; the phase of the
	// outage is set from inside.
	const (
		phase503 = iota
		phaseReset
		phase502
		phaseUp
	)
	var phase atomic.Int32
	p := newProvince(t)
	p.fault = func(string, int, *http.Request) fault {
		switch phase.Load() {
		case phase503:
			return fault{status: 503, retryAfter: "120", body: "<html>Bảo trì hệ thống</html>"}
		case phaseReset:
			return fault{resetAfter: 1 << 10}
		case phase502:
			return fault{status: 502, body: "Bad Gateway"}
		}
		return fault{}
	}

	synctest.Test(t, func(t *testing.T) {
		// The bubble starts on Saturday 1 January 2000; the outage starts
		// on Monday morning.
		time.Sleep(2*24*time.Hour + 7*time.Hour + 30*time.Minute)
		start := time.Now()
		end := start.Add(7 * 24 * time.Hour)
		sink := p.sink(t, 20*time.Second, nil)
		// Connections are not kept: an idle one has a goroutine reading the
		// socket, which would keep the bubble from ever being idle.
		sink.client.Transport.(*http.Transport).DisableKeepAlives = true
		h := newHarness(t, time.Now)
		h.backoff = province.Backoff{Min: time.Second, Max: 5 * time.Minute} // the daemon's defaults
		h.start(sink, 2, nil)

		go func() {
			for _, next := range []struct {
				after time.Duration
				phase int32
			}{{3 * 24 * time.Hour, phaseReset}, {2 * 24 * time.Hour, phase502}, {2 * 24 * time.Hour, phaseUp}} {
				time.Sleep(next.after)
				phase.Store(next.phase)
			}
		}()

		// Scans every 20 minutes from 07:30 to 17:00, Monday to Saturday,
		// into the inbox; the daemon takes them while the queue is under its
		// cap (upload.queue_max_bytes), and offers the others again at each
		// rescan, as cmd/sohoa wires it.
		const scanSize, maxQueue = 4 << 10, 100 * 4 << 10
		capacity := &QueueCap{Stats: h.st.Stats, Max: maxQueue}
		var inbox []string // dossier codes of scans waiting in the inbox
		var peak int64
		take := func() {
			for len(inbox) > 0 {
				release, err := capacity.Admit(scanSize)
				if errors.Is(err, ErrQueueFull) {
					return
				} else if err != nil {
					t.Fatal(err)
				}
				h.add(inbox[0], scanSize)
				release()
				inbox = inbox[1:]
				st, err := h.st.Stats()
				if err != nil {
					t.Fatal(err)
				}
				peak = max(peak, st.QueueBytes+st.ParkedBytes)
			}
		}
		scanned := 0
		for at := start; at.Before(end); at = at.Add(20 * time.Minute) {
			if at.Weekday() == time.Sunday || at.Hour()*60+at.Minute() < 7*60+30 || at.Hour() >= 17 {
				continue
			}
			time.Sleep(time.Until(at))
			scanned++
			inbox = append(inbox, fmt.Sprintf("000.00.12.H57-%s-%04d", at.Format("060102"), scanned))
			take()
		}
		time.Sleep(time.Until(end) - time.Millisecond) // the last moment of the outage
		st, err := h.st.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.QueueLength != 100 || st.QueueBytes != maxQueue || !st.QueueOldest.Equal(start) || st.Uploads != 0 ||
			st.Parked != 0 || len(inbox) != scanned-100 {
			t.Errorf("after a week of outage: %d in the inbox, stats %+v; want the queue at its cap of 100 scans and %d in the inbox",
				len(inbox), st, scanned-100)
		}
		p.mu.Lock()
		attempts := p.requests["upload"]
		p.mu.Unlock()

		// Back: the queue drains, and the scans left in the inbox are taken
		// at the next rescans.
		for len(inbox) > 0 {
			time.Sleep(time.Minute)
			take()
		}
		for range h.scans {
			<-h.done
		}
		drained := time.Since(end)
		if peak > maxQueue {
			t.Errorf("the queue reached %d bytes, over its cap of %d", peak, maxQueue)
		}
		h.stop()
		p.storedOnce(t, h.scans, false)
		st, _ = h.st.Stats()
		t.Logf("%d scans over a week of outage, at most %d KiB queued; %d attempts during it %v; all uploaded %v after it ended",
			len(h.scans), peak>>10, attempts, st.UploadFailures, drained.Round(time.Second))
		// One probe per backoff, 2.5 to 5 minutes apart once it is at its
		// cap: about 2000 to 4000 in a week, not one per scan per backoff.
		if attempts > 7*24*60/2 || attempts < 7*24*60/5 {
			t.Errorf("%d attempts during the week, want one per 2.5 to 5 minutes", attempts)
		}
		if st.UploadFailures[KindHTTP5xx] == 0 || st.UploadFailures[KindNetwork] == 0 {
			t.Errorf("failures %v", st.UploadFailures)
		}
		if st.Uploads != uint64(len(h.scans)) || st.QueueLength != 0 {
			t.Errorf("stats %+v", st)
		}
		if len(h.scans) != scanned {
			t.Errorf("%d scans uploaded of %d scanned", len(h.scans), scanned)
		}
		if drained > 30*time.Minute {
			t.Errorf("the queue took %v to drain after the outage", drained)
		}
	})
}
