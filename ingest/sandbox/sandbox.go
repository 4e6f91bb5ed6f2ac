// Package sandbox runs the parsing of untrusted PDFs (the check and the
// receipt barcodes' image decoding) in a separate parser process, so that a
// hostile file can exhaust that process's memory or CPU, crash it or hang
// it, but never the daemon.
//
// The parser process is the daemon's own binary started with an internal
// subcommand that calls Serve. It is long-lived (starting one costs about as
// much as checking a scan): the daemon sends it one request at a time over
// its stdin and reads the answer on its stdout (encoding/gob), and starts a
// new one when it dies, is killed, or retires. A process idle for a minute
// exits, so an idle counter PC holds none.
//
// Limits, and why these (Go and RLIMIT_AS do not mix well: the runtime
// reserves several hundred MiB of address space it never touches, and an
// address-space limit that is hit kills the whole process with "fatal
// error: out of memory" rather than failing one allocation):
//
//   - Memory: the daemon polls the process's resident set (VmRSS) every
//     25 ms during a request and kills it above Limits.Memory; inside, the
//     Go memory limit (GOMEMLIMIT) is 3/4 of it, so the collector works
//     hard before that; and RLIMIT_AS is the address space the process had
//     when it started plus twice Limits.Memory plus room for the stacks of
//     threads started later, a backstop against one huge allocation growing
//     faster than the polling sees.
//   - CPU: RLIMIT_CPU. The limit counts a process's whole life, so before
//     each request the process sets its soft limit to what it has used plus
//     Limits.CPU; at the soft limit the kernel sends SIGXCPU, on which the
//     process exits at once. The hard limit (a lifetime budget, after which
//     the kernel sends SIGKILL) is a backstop: a process that nears it
//     retires after its answer, and a fresh one takes over.
//   - Wall-clock time: the daemon kills the process when a request takes
//     longer than Limits.Timeout (a parse blocked, not spinning, uses no
//     CPU).
//
// Whatever ends the process during a request becomes a verdict on the file:
// reason.ParserLimit (for a check) or a scan with no pages found (for
// barcodes), with what happened in the detail; the next request starts a
// new process. The caller's context ending is an error, as it is in
// process.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
)

// Defaults for the zero fields of Limits and Config.
const (
	DefaultMemory  = 1 << 30
	DefaultCPU     = time.Minute
	DefaultTimeout = 2 * time.Minute
	DefaultIdle    = time.Minute
	DefaultOverlap = time.Second
)

// Limits bound one parser process.
type Limits struct {
	// Memory caps the process's resident memory in bytes; 0: DefaultMemory.
	Memory int64
	// CPU caps the CPU time of one request; 0: DefaultCPU. Whole seconds
	// (RLIMIT_CPU's unit), rounded up.
	CPU time.Duration
	// Timeout caps the wall-clock time of one request; 0: DefaultTimeout.
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.CPU <= 0 {
		l.CPU = DefaultCPU
	}
	l.CPU = l.CPU.Round(time.Second)
	if l.CPU < time.Second {
		l.CPU = time.Second
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return l
}

// Config sets up a Pool.
type Config struct {
	// Command is the parser process's argv: a program that calls Serve on
	// its stdin and stdout, e.g. {os.Executable(), "internal-parser"}.
	// Required.
	Command []string
	// Env is the parser process's environment, to which GOMAXPROCS=1 is
	// added; nil: that alone (the daemon's environment may hold secrets;
	// the parser needs none).
	Env []string
	// Check is what the parser checks files against (pdfcheck.Limits;
	// MaxTime is ignored: Limits.Timeout applies).
	Check pdfcheck.Limits
	// Pattern is the dossier-code grammar for barcodes ("" : the strict
	// grammar), as dossier.NewGrammar takes it.
	Pattern string
	Limits  Limits
	// Blanks says how blank pages are told (Find).
	Blanks barcode.BlankFinder
	// CheckBlanks makes every check also find the valid file's blank pages
	// with Blanks, in the same parse (pdfcheck.Result.Blank), bounded well
	// within the request's limits.
	CheckBlanks bool
	// Workers is how many parser processes may run at once (one request
	// each); 0: 1.
	Workers int
	// Overlap is how long a check runs alone before the next check may
	// start beside it in another process; 0: DefaultOverlap. Checks are
	// short and two side by side cost more CPU than one after the other
	// (`.ci/bench.sh 100` on two cores, docs/benchmarks.md), so a burst is
	// checked one file at a time in
	// one warm process while the daemon hashes and syncs the others; a
	// file slow to parse holds the next ones up for no longer than
	// Overlap. Barcode and blank page requests use any free process.
	Overlap time.Duration
	// Idle is how long an unused parser process is kept; 0: DefaultIdle.
	Idle time.Duration
	// Logger gets a line per process that ends outside a request's normal
	// answer; nil: none.
	Logger *slog.Logger
}

// Pool sends checks and barcode reads to parser processes. It implements
// ingest.Checker and ingest.BarcodeReader, and is safe for concurrent use.
type Pool struct {
	cfg Config
	// tokens holds one token for each slot in free; a token taken is a
	// slot of free to pop.
	tokens chan struct{}
	mu     sync.Mutex
	free   []*slot // slots not in use, the most recently used last
	// checking holds a token while a check runs alone (Config.Overlap).
	checking chan struct{}
	peak     atomic.Int64 // the highest VmHWM seen of any parser process, bytes
	// started counts parser processes started, for tests and logs.
	started atomic.Int64
}

// New returns a Pool; no process starts before the first request.
func New(cfg Config) (*Pool, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("sandbox: no parser command")
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Env == nil {
		cfg.Env = []string{}
	}
	p := &Pool{cfg: cfg, tokens: make(chan struct{}, cfg.Workers), checking: make(chan struct{}, 1)}
	for range cfg.Workers {
		p.free = append(p.free, &slot{})
		p.tokens <- struct{}{}
	}
	return p, nil
}

// take returns the most recently used free slot, whose process is the
// likeliest to be running with its heap grown, waiting for one if none is
// free. The slot must be given back with put.
func (p *Pool) take(ctx context.Context) (*slot, error) {
	select {
	case <-p.tokens:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.pop(), nil
}

func (p *Pool) pop() *slot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return s
}

func (p *Pool) put(s *slot) {
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
	p.tokens <- struct{}{}
}

// checkTurn waits until no other check runs alone, then runs alone until
// done is called or Config.Overlap passes, whichever comes first.
func (p *Pool) checkTurn(ctx context.Context) (done func(), err error) {
	select {
	case p.checking <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	leave := func() { once.Do(func() { <-p.checking }) }
	t := time.AfterFunc(p.cfg.Overlap, leave)
	return func() { t.Stop(); leave() }, nil
}

// Check checks src in a parser process, as pdfcheck.Checker.Check does. A
// process that dies or is killed on the file gives reason.ParserLimit.
func (p *Pool) Check(ctx context.Context, src, repairedDst string) (pdfcheck.Result, error) {
	done, err := p.checkTurn(ctx)
	if err != nil {
		return pdfcheck.Result{}, fmt.Errorf("check %s: %w", src, err)
	}
	a, limit, err := p.do(ctx, request{Op: opCheck, Path: src, Dst: repairedDst})
	done()
	switch {
	case err != nil:
		return pdfcheck.Result{}, fmt.Errorf("check %s: %w", src, err)
	case limit != "":
		return pdfcheck.Result{Reason: reason.ParserLimit, Detail: "parser limit: " + limit}, nil
	case a.Err != "":
		return pdfcheck.Result{}, fmt.Errorf("check %s in the parser process: %s", src, a.Err)
	}
	return a.Result, nil
}

// ReadFirst reads receipts' codes in a parser process, as
// barcode.Reader.ReadFirst does. A process that dies or is killed on the
// file gives no pages, as a file that cannot be parsed does (the file has
// passed its check; it is then linked by its name or held for a person).
func (p *Pool) ReadFirst(ctx context.Context, path string, n int) ([]barcode.Page, error) {
	a, limit, err := p.do(ctx, request{Op: opBarcodes, Path: path, N: n})
	switch {
	case err != nil:
		return nil, fmt.Errorf("read codes of %s: %w", path, err)
	case limit != "":
		p.cfg.Logger.Warn("reading barcodes hit the parser limit; no codes read from the file", "path", path, "limit", limit)
		return nil, nil
	case a.Err != "":
		return nil, fmt.Errorf("read codes of %s in the parser process: %s", path, a.Err)
	}
	return a.Pages, nil
}

// Find finds a scan's blank pages in a parser process, as
// barcode.BlankFinder.Find does with Config.Blanks. A process that dies or
// is killed on the file finds none: every page is kept.
func (p *Pool) Find(ctx context.Context, path string) (barcode.Blanks, error) {
	a, limit, err := p.do(ctx, request{Op: opBlanks, Path: path})
	switch {
	case err != nil:
		return barcode.Blanks{}, fmt.Errorf("find blank pages of %s: %w", path, err)
	case limit != "":
		p.cfg.Logger.Warn("finding blank pages hit the parser limit; every page is kept", "path", path, "limit", limit)
		return barcode.Blanks{}, nil
	case a.Err != "":
		return barcode.Blanks{}, fmt.Errorf("find blank pages of %s in the parser process: %s", path, a.Err)
	}
	return a.Blanks, nil
}

// Thumbnail makes a scan's first-page thumbnail in a parser process, as
// barcode.Reader.Thumbnail does; its size is checked here, so the daemon
// takes from the process no more than a maxSide × maxSide picture. A
// process that dies or is killed on the file gives none.
func (p *Pool) Thumbnail(ctx context.Context, path string, maxSide int) (barcode.Thumbnail, error) {
	a, limit, err := p.do(ctx, request{Op: opThumb, Path: path, N: maxSide})
	switch {
	case err != nil:
		return barcode.Thumbnail{}, fmt.Errorf("thumbnail of %s: %w", path, err)
	case limit != "":
		p.cfg.Logger.Warn("a thumbnail hit the parser limit; none shown", "path", path, "limit", limit)
		return barcode.Thumbnail{}, nil
	case a.Err != "":
		return barcode.Thumbnail{}, fmt.Errorf("thumbnail of %s in the parser process: %s", path, a.Err)
	}
	t := a.Thumb
	if t.W <= 0 || t.H <= 0 || t.W > maxSide || t.H > maxSide || len(t.Pix) != t.W*t.H {
		return barcode.Thumbnail{}, nil
	}
	return t, nil
}

// Warm starts, in the background, the parser process the next request
// will use if none is in use and it is not running, so that the request
// does not wait for a start: the daemon calls it when a file appears in the
// inbox, a quiet period before the file is offered. Files are checked one
// at a time (Config.Overlap) in the most recently used process, so one
// process is warmed, and none while one works: the others start when
// requests overlap. It never blocks.
func (p *Pool) Warm() {
	p.mu.Lock()
	if len(p.free) < p.cfg.Workers {
		p.mu.Unlock()
		return // the next check will follow in the process in use
	}
	// The slot stays free: a request that takes it meanwhile waits for
	// the start below (the slot's lock) instead of starting another.
	s := p.free[len(p.free)-1]
	p.mu.Unlock()
	go func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.w != nil {
			return
		}
		w, err := p.start()
		if err != nil {
			p.cfg.Logger.Warn("parser process not started ahead of a file", "err", err)
			return
		}
		s.w = w
		p.idleLater(s)
	}()
}

// PeakRSS returns the highest resident memory (VmHWM) seen of any parser
// process so far, in bytes; 0 before the first answer.
func (p *Pool) PeakRSS() int64 { return p.peak.Load() }

// Started returns how many parser processes were started so far.
func (p *Pool) Started() int64 { return p.started.Load() }

// Close stops every parser process, waiting for requests in flight.
func (p *Pool) Close() error {
	for range p.cfg.Workers {
		s, _ := p.take(context.Background())
		s.mu.Lock()
		if s.w != nil {
			s.w.stop()
			s.w = nil
		}
		s.closed = true
		s.mu.Unlock()
		defer p.put(s) // later requests find it closed
	}
	return nil
}

// slot holds at most one parser process; a request holds the slot.
type slot struct {
	mu     sync.Mutex
	w      *worker // nil: none running
	used   time.Time
	idle   *time.Timer
	closed bool
}

// errClosed is returned for requests after Close.
var errClosed = errors.New("sandbox: pool closed")

// do runs one request in a parser process. limit is set (and err nil) when
// the process died or was killed during the request.
func (p *Pool) do(ctx context.Context, req request) (a answer, limit string, err error) {
	s, err := p.take(ctx)
	if err != nil {
		return answer{}, "", err
	}
	defer p.put(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return answer{}, "", errClosed
	}
	// A process found dead before it took the request (it was killed while
	// idle) is replaced once; one that dies on the request is a verdict.
	for attempt := 0; ; attempt++ {
		if s.w == nil {
			if s.w, err = p.start(); err != nil {
				return answer{}, "", err
			}
		}
		a, limit, err = s.w.call(ctx, req, p.cfg.Limits)
		if errors.Is(err, errGone) && attempt == 0 {
			s.w.stop()
			s.w = nil
			continue
		}
		break
	}
	for hwm := s.w.hwm(); ; {
		if old := p.peak.Load(); hwm <= old || p.peak.CompareAndSwap(old, hwm) {
			break
		}
	}
	if err != nil || limit != "" || a.Retire {
		if limit != "" {
			p.cfg.Logger.Warn("parser process ended on a file", "path", req.Path, "op", req.Op, "limit", limit)
		}
		s.w.stop()
		s.w = nil
	}
	p.idleLater(s)
	return a, limit, err
}

// idleLater stops s's process once it has been idle for cfg.Idle. Called
// with s.mu held.
func (p *Pool) idleLater(s *slot) {
	s.used = time.Now()
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.w == nil {
		return
	}
	s.idle = time.AfterFunc(p.cfg.Idle, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.w != nil && time.Since(s.used) >= p.cfg.Idle {
			s.w.stop()
			s.w = nil
		}
	})
}

func (p *Pool) start() (*worker, error) {
	w, err := startWorker(p.cfg)
	if err != nil {
		return nil, fmt.Errorf("start parser process %s: %w", strings.Join(p.cfg.Command, " "), err)
	}
	p.started.Add(1)
	return w, nil
}
