package sandbox

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
)

// lifetimeCPU is how much CPU time one parser process may use over its
// life, at least: the RLIMIT_CPU hard limit, a backstop behind the
// per-request soft limit.
const lifetimeCPU = 10 * time.Minute

// hugeHeapSize is the heap address space hugeHeap prepares: a 20-page
// scan at 200 dpi (~8 MB) parses within it, collector headroom included.
const hugeHeapSize = 64 << 20

// idleRelease is how long the parser process idles before it returns its
// free heap to the system.
const idleRelease = 5 * time.Second

// Serve is the parser process: it reads the setup and then requests from
// in, and writes one answer per request to out, until in ends (nil) or the
// process nears its lifetime CPU budget (nil, after telling the daemon).
// It sets the process's limits before it reads the first request, and
// exits the process (status exitCPU) when a request's CPU time runs out.
// Call it from the main goroutine of a process that does nothing else.
func Serve(in io.Reader, out io.Writer) error {
	dec := gob.NewDecoder(bufio.NewReader(in))
	enc := gob.NewEncoder(out)
	var s setup
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("parser: read setup: %w", err)
	}
	lim := s.Limits.withDefaults()
	// One request at a time, and a parse is one goroutine: one processor
	// is all a parser can use, and the daemon runs one parser per worker.
	// More would only start more threads and let the collector's workers
	// take the other cores from the daemon and the other parsers (faster
	// with 1 in `.ci/bench.sh`'s burst on 2 cores, docs/benchmarks.md).
	runtime.GOMAXPROCS(1)
	_ = hugeHeap(hugeHeapSize) // a hint: without huge pages, parses fault in small pages
	xcpu := make(chan os.Signal, 1)
	signal.Notify(xcpu, sigCPU)
	go func() {
		<-xcpu
		fmt.Fprintln(os.Stderr, "sohoa parser: CPU time limit reached")
		os.Exit(exitCPU)
	}()
	// A parse allocates about the file's size again (pdfcpu reads every
	// stream into memory) and keeps little: collecting at twice the live
	// heap rather than once saved parser CPU over `.ci/bench.sh`'s burst
	// for a few MB of peak RSS, while the memory limit set below
	// still makes the collector work hard near the cap.
	debug.SetGCPercent(200)
	cpu, err := limitProcess(lim)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sohoa parser:", err)
		os.Exit(exitSetup)
	}
	g, err := dossier.NewGrammar(s.Pattern)
	if err != nil {
		return fmt.Errorf("parser: %w", err)
	}
	chk := s.Check
	chk.MaxTime = 2 * lim.Timeout // the daemon's wall-clock limit comes first
	// A check's blank page search ends well before the request's limits,
	// which would make the file's verdict parser_limit.
	chk.BlankTime = min(lim.Timeout, lim.CPU) / 4
	blanks := s.Blanks
	// One request at a time on one processor: pdfcpu's reads need not
	// tell the scheduler (see pdfcheck.Checker.QuietReads).
	checker := &pdfcheck.Checker{Limits: chk, QuietReads: true}
	if s.CheckBlanks {
		checker.Blanks = &blanks
	}
	reader := &barcode.Reader{Grammar: g}
	ctx := context.Background()
	// Hand a big parse's heap back once the process idles a while.
	release := time.AfterFunc(time.Hour, debug.FreeOSMemory)
	release.Stop()
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("parser: read request: %w", err)
		}
		release.Stop()
		if err := cpu.budget(lim.CPU); err != nil {
			fmt.Fprintln(os.Stderr, "sohoa parser:", err)
			os.Exit(exitSetup)
		}
		var a answer
		switch req.Op {
		case opCheck:
			a.Result, err = checker.Check(ctx, req.Path, req.Dst)
		case opBarcodes:
			a.Pages, err = reader.ReadFirst(ctx, req.Path, req.N)
		case opBlanks:
			a.Blanks, err = blanks.Find(ctx, req.Path)
		case opThumb:
			a.Thumb, err = reader.Thumbnail(ctx, req.Path, req.N)
		default:
			err = fmt.Errorf("unknown request %q", req.Op)
		}
		if err != nil {
			a.Err = err.Error()
		}
		a.Retire = cpu.nearEnd(lim.CPU)
		if err := enc.Encode(a); err != nil {
			return fmt.Errorf("parser: write answer: %w", err)
		}
		if a.Retire {
			return nil
		}
		release.Reset(idleRelease)
	}
}
