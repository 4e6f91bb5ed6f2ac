// Package upload moves queued scans to the provincial system: the Sink
// interface that each target implements, the folder sink, the HTTP sink
// (requests described by configuration: templates, multipart or raw body,
// an optional second "attach" request, authentication, TLS, bandwidth
// limit), and the Worker that drains the durable queue with several uploads
// in flight and capped, jittered exponential backoff.
//
// A job leaves the queue only after its sink confirmed it, so a crash at any
// point repeats at most the last attempt, and sinks make a repeat harmless
// (the folder sink by content, the HTTP sink by idempotency key; a two-step
// upload records its first step's result before the second). A job the
// sink refuses for good is parked, never dropped.
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/province"
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
	// Key is the upload's idempotency key, the same on every attempt of
	// one pair (dossier, content); "": IdempotencyKey(Dossier, SHA256).
	Key string

	// Progress is what an earlier attempt of this job recorded with Save;
	// nil when nothing was.
	Progress map[string]string
	// Save durably records a sink's progress within the job (the file id a
	// first request of two returned) before the sink goes on, so that an
	// attempt after a failure or a crash resumes there. A sink must return
	// Save's error (wrapped or not) and stop. nil: progress is not kept.
	Save func(progress map[string]string) error
}

// Sink delivers items. Put must be idempotent: delivering the same item
// twice must leave one copy upstream. A failed Put is retried later, unless
// it is a Permanent *Error; an *Error says what kind of failure it was. Put
// is called from several goroutines at once (Worker.Concurrency), never for
// two items of one dossier at the same time.
type Sink interface {
	Put(ctx context.Context, it Item) error
}

// Failure kinds, a closed set used as metric label values: the provincial
// system's, and two of the sinks'.
const (
	KindFilesystem = "filesystem" // the target folder is missing, full or read-only
	KindNetwork    = province.KindNetwork
	KindTimeout    = province.KindTimeout
	KindHTTP4xx    = province.KindHTTP4xx
	KindHTTP5xx    = province.KindHTTP5xx
	KindAuth       = province.KindAuth
	KindSource     = "source" // our own copy of the scan could not be read
)

// Kinds lists every failure kind, for metrics to create at zero.
var Kinds = []string{KindFilesystem, KindNetwork, KindTimeout, KindHTTP4xx, KindHTTP5xx, KindAuth, KindSource}

// Error is a failed delivery with its kind: a sink's failures are
// province.Errors, with the kinds above.
type Error = province.Error

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

// Queue is the part of the store the worker needs; *store.Store
// implements it. Every method is one transaction.
type Queue interface {
	Due(now time.Time, limit int, skip func(store.Job) bool) (due []store.Job, next time.Time, err error)
	Done(j store.Job, at time.Time) error
	Failed(j store.Job, kind string, next time.Time, msg string) error
	Park(j store.Job, kind string, status int, reason string, at time.Time) error
	SaveProgress(j store.Job, progress map[string]string) error
	SetSigned(j store.Job, sha string) error
}

// Signed is the signed copy of a job's file (see Worker.Sign).
type Signed struct {
	Path   string
	SHA256 string
	Size   int64
}

// Worker drains the queue into a sink with up to Concurrency uploads in
// flight, never two of one dossier at once. Its fields are set before Run
// and not changed after; Run is called once. Wake may be called from any
// goroutine.
//
// A failure of the sink itself (network, timeout, 408, 429, 5xx, auth,
// filesystem) pauses every upload for the backoff, not only the failed one:
// after the pause one upload probes the sink alone, and all resume once it
// succeeds. A commune's link that is down for days thus costs one attempt
// per max backoff, not one per queued scan. The failed job also waits out
// its own backoff, so that one scan the server always fails on cannot stop
// the others. A Permanent failure parks the job.
type Worker struct {
	Queue Queue
	Sink  Sink
	Ward  string
	Path  func(j store.Job) string // where the job's file is in the data dir
	Done  func(j store.Job)        // called after a confirmed upload was recorded (archive it); may be nil
	province.Backoff
	// Concurrency is how many uploads may be in flight; below 1 means 1.
	Concurrency int
	// MaxRetryAfter caps how long a server's Retry-After may hold uploads
	// back; 0: the larger of Backoff.Max and one hour.
	MaxRetryAfter time.Duration
	// Sign, when set, gives the file to deliver in place of the job's own:
	// its signed copy (ingest/sign). The copy's SHA-256 is recorded on the
	// job before its first delivery. A failure holds every upload, as a
	// failure of the sink does, without counting against the job; one that
	// is a Permanent *Error parks the job.
	Sign    func(ctx context.Context, j store.Job, path string) (Signed, error)
	Observe func(Attempt)    // nil: nothing
	Now     func() time.Time // nil: time.Now
	// After returns a channel that receives once d has passed, as
	// time.After (nil) does; tests move time with it.
	After  func(d time.Duration) <-chan time.Time
	Logger *slog.Logger // nil: discard

	wake chan struct{}
}

// NewWorker returns a worker with its defaults filled in.
func NewWorker(w Worker) *Worker {
	w.wake = make(chan struct{}, 1)
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.After == nil {
		w.After = time.After
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
	w.Concurrency = max(w.Concurrency, 1)
	if w.MaxRetryAfter <= 0 {
		w.MaxRetryAfter = max(w.Max, time.Hour)
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

// outcome is what one attempt tells the dispatcher.
type outcome struct {
	job        store.Job
	ok         bool          // the sink confirmed it
	sinkDown   bool          // the sink itself failed: pause everything
	retryAfter time.Duration // the server's advice, capped
	err        error         // the store failed: stop
}

// Run uploads due jobs until ctx is cancelled, then waits for the uploads
// in flight to end. It returns nil then, or an error when the store itself
// fails.
func (w *Worker) Run(ctx context.Context) error {
	work := make(chan store.Job)
	results := make(chan outcome, w.Concurrency)
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Go(func() {
			for j := range work {
				results <- w.attempt(ctx, j)
			}
		})
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	inflight := map[string]bool{} // dossier codes with an upload under way
	var (
		fatal      error
		failures   int       // consecutive failures of the sink
		pauseUntil time.Time // no upload starts before
	)
	for {
		stopping := ctx.Err() != nil || fatal != nil
		if stopping && len(inflight) == 0 {
			return fatal
		}
		now := w.Now()
		slots := w.Concurrency - len(inflight)
		if failures > 0 {
			slots = 1 - len(inflight) // probing: one upload at a time
		}
		// No wait the worker sets is longer than this; a time further ahead
		// means the clock was set back since: waiting for it to catch up
		// would hold the uploads for as long as it went back.
		longest := max(w.Min, w.Max, time.Second, w.MaxRetryAfter)
		if pauseUntil.Sub(now) > longest {
			w.Logger.Warn("the clock went back; ending the pause", "until", pauseUntil, "now", now)
			pauseUntil = now
		}
		var next time.Time
		switch {
		case stopping || slots <= 0:
		case now.Before(pauseUntil):
			next = pauseUntil
		default:
			taken := map[string]bool{}
			skip := func(j store.Job) bool {
				if inflight[j.Dossier] || taken[j.Dossier] {
					return true
				}
				taken[j.Dossier] = true
				return false
			}
			due, n, err := w.Queue.Due(now, slots, skip)
			if err == nil && len(due) < slots && n.Sub(now) > longest {
				// Retry times recorded before the clock went back: those
				// jobs are due (their own waits have passed, as far as
				// anyone can tell).
				w.Logger.Warn("the clock went back; retrying uploads whose time was set before", "next_attempt", n, "now", now)
				var more []store.Job
				more, n, err = w.Queue.Due(n, slots-len(due), skip)
				due = append(due, more...)
			}
			if err != nil {
				fatal = fmt.Errorf("read upload queue: %w", err)
				continue
			}
			for _, j := range due {
				inflight[j.Dossier] = true
				work <- j // a worker is free: fewer than Concurrency are in flight
			}
			next = n
		}

		var timer <-chan time.Time
		if !next.IsZero() && !stopping {
			timer = w.After(max(next.Sub(now), 0))
		}
		done := ctx.Done()
		if stopping {
			done = nil // only wait for the uploads in flight
		}
		select {
		case <-done:
		case <-w.wake:
		case <-timer:
		case r := <-results:
			delete(inflight, r.job.Dossier)
			switch {
			case r.err != nil:
				fatal = r.err
			case r.ok:
				if failures > 0 {
					w.Logger.Info("upload sink is back", "failed_attempts", failures)
				}
				failures, pauseUntil = 0, time.Time{}
			case r.sinkDown:
				failures++
				pause := max(w.Delay(failures, rand.Float64), r.retryAfter)
				pauseUntil = w.Now().Add(pause)
				if failures == 1 {
					w.Logger.Warn("upload sink unavailable; pausing uploads", "retry_in", pause.Round(time.Millisecond))
				}
			}
		}
	}
}

// attempt delivers one job and records the outcome.
func (w *Worker) attempt(ctx context.Context, j store.Job) outcome {
	it := Item{Dossier: j.Dossier, Name: j.Name, SHA256: j.Content, Size: j.Size, Pages: j.Pages,
		Ward: w.Ward, Path: w.Path(j), Progress: j.Progress, Key: jobKey(j),
		Save: func(p map[string]string) error {
			if err := w.Queue.SaveProgress(j, p); err != nil {
				return &storeError{fmt.Errorf("record upload progress of %s for %s: %w", j.SHA256, j.Dossier, err)}
			}
			w.Logger.Debug("upload progress recorded", "dossier", j.Dossier, "sha256", j.SHA256, "progress", p)
			return nil
		}}
	// The scan's own copy is sealed before anything reads it for delivery:
	// signing reads it too.
	err := seal(ctx, it)
	if err == nil && w.Sign != nil {
		if out, held := w.signed(ctx, j, &it); held {
			return out
		}
	}
	start := w.Now()
	if err == nil {
		err = w.Sink.Put(ctx, it)
	}
	took := w.Now().Sub(start)
	out := outcome{job: j}
	if err == nil {
		w.Observe(Attempt{Bytes: j.Size, Duration: took})
		if err := w.Queue.Done(j, w.Now()); err != nil {
			out.err = fmt.Errorf("record upload of %s for %s: %w", j.SHA256, j.Dossier, err)
			return out
		}
		w.Logger.Info("uploaded", "dossier", j.Dossier, "file", j.Name, "sha256", j.SHA256,
			"bytes", j.Size, "duration", took, "attempts", j.Attempts+1)
		w.Done(j)
		out.ok = true
		return out
	}
	var se *storeError
	if errors.As(err, &se) {
		out.err = se.err
		return out
	}
	if ctx.Err() != nil {
		return out // shutting down: not a failure of the sink
	}
	kind := kindOf(err)
	var e *Error
	errors.As(err, &e)
	w.Observe(Attempt{Bytes: j.Size, Duration: took, Kind: kind})
	if final(err) {
		status := 0
		if e != nil {
			status = e.Status
		}
		w.Logger.Error("upload rejected; parked until it is requeued", "dossier", j.Dossier, "file", j.Name,
			"sha256", j.SHA256, "kind", kind, "status", status, "attempt", j.Attempts+1, "err", err)
		if err := w.Queue.Park(j, kind, status, err.Error(), w.Now()); err != nil {
			out.err = fmt.Errorf("park rejected upload of %s for %s: %w", j.SHA256, j.Dossier, err)
		}
		return out
	}
	if e != nil {
		out.retryAfter = min(e.RetryAfter, w.MaxRetryAfter)
	}
	out.sinkDown = kind != KindSource
	wait := max(w.Delay(j.Attempts+1, rand.Float64), out.retryAfter)
	w.Logger.Warn("upload failed, will retry", "dossier", j.Dossier, "file", j.Name, "sha256", j.SHA256,
		"kind", kind, "attempt", j.Attempts+1, "retry_in", wait.Round(time.Millisecond), "err", err)
	if err := w.Queue.Failed(j, kind, w.Now().Add(wait), err.Error()); err != nil {
		out.err = fmt.Errorf("record failed upload of %s for %s: %w", j.SHA256, j.Dossier, err)
	}
	return out
}

// seal makes sure that it's file holds the content recorded for it and
// that no other process can change it while, and after, it is delivered and
// archived (see atomicfile.Seal): a scan taken from the inbox by a hard
// link shares its inode with the inbox file, which a program that opened
// it may write into after its name there is gone. Bytes that changed are
// never delivered: the job is parked, since its recorded content is gone.
func seal(ctx context.Context, it Item) error {
	err := atomicfile.Seal(ctx, it.Path, it.SHA256)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, atomicfile.ErrChanged):
		return &Error{Kind: KindSource, Permanent: true, Err: fmt.Errorf(
			"not delivered: the scan's file in the data dir was written into after it was taken from the inbox, "+
				"its recorded content is gone (scan the document again): %w", err)}
	}
	return &Error{Kind: KindSource, Err: fmt.Errorf("our copy of the scan: %w", err)}
}

// final reports whether retrying err cannot help until a person acts: the
// sink said so (Error.Permanent), or the file system refuses the name
// itself, which no later attempt changes. Such a job is parked: retried,
// it would fail forever and pause every other upload each time.
func final(err error) bool {
	var e *Error
	if errors.As(err, &e) && e.Permanent {
		return true
	}
	return errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.EILSEQ)
}

// signed puts the job's signed copy in it, recording it first. held: the
// upload does not go ahead, for out's reason.
func (w *Worker) signed(ctx context.Context, j store.Job, it *Item) (out outcome, held bool) {
	out = outcome{job: j}
	s, err := w.Sign(ctx, j, it.Path)
	if err != nil {
		if ctx.Err() != nil {
			return out, true
		}
		if e, ok := errors.AsType[*Error](err); ok && e.Permanent {
			w.Logger.Error("upload cannot be signed; parked until it is requeued", "dossier", j.Dossier, "file", j.Name,
				"sha256", j.SHA256, "err", err)
			if err := w.Queue.Park(j, kindOf(err), 0, err.Error(), w.Now()); err != nil {
				out.err = fmt.Errorf("park unsignable upload of %s for %s: %w", j.SHA256, j.Dossier, err)
			}
			return out, true
		}
		// The key is unavailable (a token pulled out, a PIN refused):
		// every upload waits, as for a sink that is down.
		out.sinkDown = true
		return out, true
	}
	if j.Signed != s.SHA256 {
		if j.Signed != "" {
			w.Logger.Warn("signed copy differs from the one recorded; delivering the new one", "dossier", j.Dossier,
				"sha256", j.SHA256, "recorded", j.Signed, "signed", s.SHA256)
		}
		if err := w.Queue.SetSigned(j, s.SHA256); err != nil {
			out.err = fmt.Errorf("record signed copy of %s for %s: %w", j.SHA256, j.Dossier, err)
			return out, true
		}
	}
	it.Path, it.SHA256, it.Size = s.Path, s.SHA256, s.Size
	return out, false
}

// storeError marks a failure of the store met inside the sink (Item.Save):
// the worker stops on it as on any other store failure.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }
