// Package upload moves queued scans to the provincial system: the Sink
// interface that each target implements, the folder sink, and the Worker
// that drains the durable queue with capped, jittered exponential backoff.
//
// A job leaves the queue only after its sink confirmed it, so a crash at any
// point repeats at most the last attempt, and sinks make a repeat harmless
// (the folder sink by content, the HTTP sink by idempotency key).
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

// Item is one file to deliver under one dossier.
type Item struct {
	Dossier string // dossier code
	Name    string // file name to deliver it as
	SHA256  string // hex SHA-256 of the content delivered
	Size    int64
	Pages   int
	Ward    string // this unit's agency code
	Path    string // the file to read, in the data dir
}

// Sink delivers items. Put must be idempotent: delivering the same item
// twice must leave one copy upstream. A failed Put is retried later; an
// *Error says what kind of failure it was. Sinks are used by one goroutine
// per worker.
type Sink interface {
	Put(ctx context.Context, it Item) error
}

// Failure kinds, a closed set used as metric label values.
const (
	KindFilesystem = "filesystem" // the target folder is missing, full or read-only
	KindNetwork    = "network"
	KindTimeout    = "timeout"
	KindHTTP4xx    = "http_4xx"
	KindHTTP5xx    = "http_5xx"
	KindAuth       = "auth"
	KindSource     = "source" // our own copy of the scan could not be read
)

// Kinds lists every failure kind, for metrics to create at zero.
var Kinds = []string{KindFilesystem, KindNetwork, KindTimeout, KindHTTP4xx, KindHTTP5xx, KindAuth, KindSource}

// Error is a failed delivery with its kind.
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// kindOf returns the failure kind of err, KindNetwork when it does not say.
func kindOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	return KindNetwork
}

// Attempt describes one delivery attempt, for metrics.
type Attempt struct {
	Bytes    int64
	Duration time.Duration
	Kind     string // "" on success
}

// Queue is the part of the store the worker needs.
type Queue interface {
	Jobs(now time.Time, limit int) (due []store.Job, next time.Time, err error)
	Done(j store.Job, at time.Time) error
	Failed(j store.Job, kind string, next time.Time, msg string) error
}

// Worker drains the queue into a sink. Its fields are set before Run and not
// changed after. A Worker is run by one goroutine; Wake may be called from
// any goroutine.
type Worker struct {
	Queue Queue
	Sink  Sink
	Ward  string
	Path  func(j store.Job) string // where the job's file is in the data dir
	Done  func(j store.Job)        // called after a confirmed upload was recorded (archive it); may be nil
	Backoff
	Observe func(Attempt)    // nil: nothing
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger     // nil: discard

	wake chan struct{}
}

// Backoff bounds the delay between attempts of one job: Min doubled per
// failed attempt, capped at Max, with jitter over the upper half.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait after the given number of failed attempts (1 or more).
func (b Backoff) Delay(attempts int, rnd func() float64) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	// Jitter over [d/2, d): many counters coming back after one outage do
	// not all hit the province at the same moment.
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// NewWorker returns a worker with its wake channel made.
func NewWorker(w Worker) *Worker {
	w.wake = make(chan struct{}, 1)
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Logger == nil {
		w.Logger = slog.New(slog.DiscardHandler)
	}
	if w.Observe == nil {
		w.Observe = func(Attempt) {}
	}
	if w.Done == nil {
		w.Done = func(store.Job) {}
	}
	return &w
}

// Wake tells the worker that new jobs were queued.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run uploads due jobs until ctx is cancelled. It returns nil then, or an
// error when the store itself fails.
func (w *Worker) Run(ctx context.Context) error {
	for {
		due, next, err := w.Queue.Jobs(w.Now(), 16)
		if err != nil {
			return fmt.Errorf("read upload queue: %w", err)
		}
		for _, j := range due {
			if ctx.Err() != nil {
				return nil
			}
			if err := w.attempt(ctx, j); err != nil {
				return err
			}
		}
		if len(due) > 0 {
			continue
		}
		if !w.sleep(ctx, next) {
			return nil
		}
	}
}

// sleep waits for a wake-up, or until next when it is set; false when ctx
// is cancelled.
func (w *Worker) sleep(ctx context.Context, next time.Time) bool {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(w.Now()), 0))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.wake:
	case <-timer:
	}
	return true
}

// attempt delivers one job and records the outcome; only a store failure is
// returned.
func (w *Worker) attempt(ctx context.Context, j store.Job) error {
	it := Item{Dossier: j.Dossier, Name: j.Name, SHA256: j.Content, Size: j.Size, Pages: j.Pages,
		Ward: w.Ward, Path: w.Path(j)}
	start := w.Now()
	err := w.Sink.Put(ctx, it)
	took := w.Now().Sub(start)
	if err == nil {
		w.Observe(Attempt{Bytes: j.Size, Duration: took})
		if err := w.Queue.Done(j, w.Now()); err != nil {
			return fmt.Errorf("record upload of %s for %s: %w", j.SHA256, j.Dossier, err)
		}
		w.Logger.Info("uploaded", "dossier", j.Dossier, "file", j.Name, "sha256", j.SHA256,
			"bytes", j.Size, "duration", took, "attempts", j.Attempts+1)
		w.Done(j)
		return nil
	}
	if ctx.Err() != nil {
		return nil // shutting down: not a failure of the sink
	}
	kind := kindOf(err)
	wait := w.Delay(j.Attempts+1, rand.Float64)
	w.Observe(Attempt{Bytes: j.Size, Duration: took, Kind: kind})
	w.Logger.Warn("upload failed, will retry", "dossier", j.Dossier, "file", j.Name, "sha256", j.SHA256,
		"kind", kind, "attempt", j.Attempts+1, "retry_in", wait.Round(time.Millisecond), "err", err)
	if err := w.Queue.Failed(j, kind, w.Now().Add(wait), err.Error()); err != nil {
		return fmt.Errorf("record failed upload of %s for %s: %w", j.SHA256, j.Dossier, err)
	}
	return nil
}
