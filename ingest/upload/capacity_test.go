package upload

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestQueueCap(t *testing.T) {
	h := newHarness(t, time.Now)
	var logs bytes.Buffer
	c := &QueueCap{Stats: h.st.Stats, Max: 10 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	admit := func(size int64, want bool) {
		t.Helper()
		release, err := c.Admit(size)
		if err == nil {
			release() // taken in: now counted by the store, if recorded
		}
		if want && err != nil || !want && !errors.Is(err, ErrQueueFull) {
			t.Errorf("Admit(%d) with %d queued = %v, want admitted %v", size, len(h.scans), err, want)
		}
	}
	admit(50<<10, true) // an empty queue takes even a file over the cap
	h.add("000.00.12.H57-260323-0001", 4<<10)
	admit(4<<10, true)
	h.add("000.00.12.H57-260323-0002", 4<<10)
	admit(4<<10, false) // 12 KiB would pass 10 KiB
	admit(2<<10, true)  // exactly at the cap
	admit(4<<10, false)
	// Parked uploads take room too, until they are requeued and uploaded.
	due, _, _ := h.st.Jobs(time.Now(), 1)
	if err := h.st.Park(due[0], KindHTTP4xx, 400, "HTTP 400", time.Now()); err != nil {
		t.Fatal(err)
	}
	admit(4<<10, false)
	due, _, _ = h.st.Jobs(time.Now(), 1)
	if err := h.st.Done(due[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	admit(4<<10, true)
	if n := strings.Count(logs.String(), "upload queue is full"); n != 2 {
		t.Errorf("logged %d times that the queue is full, want once per time it filled:\n%s", n, &logs)
	}
	if !strings.Contains(logs.String(), "has room again") {
		t.Errorf("no log when intake resumed:\n%s", &logs)
	}
	if _, err := (&QueueCap{Stats: h.st.Stats}).Admit(1 << 40); err != nil {
		t.Errorf("no cap: %v", err)
	}
}

func TestQueueCapCountsFilesBeingTaken(t *testing.T) {
	// Two watch workers ask at once: the second must see the first's file
	// although it is not recorded yet, or together they pass the cap.
	h := newHarness(t, time.Now)
	c := &QueueCap{Stats: h.st.Stats, Max: 10 << 10}
	h.add("000.00.12.H57-260323-0001", 4<<10)
	release, err := c.Admit(4 << 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admit(4 << 10); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a second file beside one being taken: %v, want ErrQueueFull", err)
	}
	release()
	release() // twice is harmless
	if _, err := c.Admit(4 << 10); err != nil {
		t.Errorf("after the first was given up: %v, want admitted", err)
	}
}
