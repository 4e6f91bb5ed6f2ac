package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
)

// The protocol: the daemon writes one setup, then requests; the parser
// answers each request with one answer, in order.
type setup struct {
	Check   pdfcheck.Limits
	Pattern string
	Limits  Limits
	Blanks  barcode.BlankFinder
	// CheckBlanks: checks also find the blank pages of valid files, in
	// the same parse (pdfcheck.Result.Blank).
	CheckBlanks bool
}

const (
	opCheck    = "check"
	opBarcodes = "barcodes"
	opBlanks   = "blanks"
	opThumb    = "thumbnail"
)

type request struct {
	Op   string // opCheck, opBarcodes, opBlanks or opThumb
	Path string // the file
	Dst  string // check: where a repaired copy goes ("" : nowhere)
	N    int    // barcodes: pages with images to decode (0: all); thumbnail: its longest side
}

type answer struct {
	Result pdfcheck.Result
	Pages  []barcode.Page
	Blanks barcode.Blanks
	Thumb  barcode.Thumbnail
	Err    string // the request failed for a reason of our own (I/O), not the file's content
	// Retire: the process nears its lifetime CPU budget and exits after
	// this answer.
	Retire bool
}

// Exit statuses of the parser process that say why it ended.
const (
	exitCPU   = 3 // SIGXCPU: the request's CPU time is used up
	exitSetup = 4 // the limits could not be set: the process refuses to parse
)

// errGone: the process was dead before it took the request.
var errGone = errors.New("parser process is gone")

// pollRSS is how often the resident set is read during a request.
const pollRSS = 25 * time.Millisecond

// worker is one parser process.
type worker struct {
	cmd    *exec.Cmd
	pid    int
	stdin  io.WriteCloser
	enc    *gob.Encoder
	dec    *gob.Decoder
	stderr *tail
	status chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's, set before status is closed
	peak   int64         // the last VmHWM read, bytes
	// proc is the process's /proc/PID/status, opened once and read again
	// at offset 0 for each look at its memory (one system call instead of
	// open, fstat, read and close: about a millisecond a scan less in a VM
	// where system calls are dear); nil where there is no /proc. Closed
	// once the process is reaped.
	proc   *os.File
	stopMu sync.Once
}

func startWorker(cfg Config) (*worker, error) {
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	// One processor from the runtime's start, not only from Serve's
	// (runtime.GOMAXPROCS there): fewer threads and collector workers to
	// set up, less CPU a start (BenchmarkStart, docs/benchmarks.md).
	cmd.Env = append(slices.Clip(cfg.Env), "GOMAXPROCS=1")
	cmd.SysProcAttr = sysProcAttr()
	w := &worker{cmd: cmd, stderr: &tail{max: 2048}, status: make(chan struct{})}
	cmd.Stderr = w.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w.pid, w.stdin = cmd.Process.Pid, stdin
	w.enc, w.dec = gob.NewEncoder(stdin), gob.NewDecoder(bufio.NewReader(stdout))
	if f, err := os.Open("/proc/" + strconv.Itoa(w.pid) + "/status"); err == nil {
		w.proc = f
	}
	go func() {
		w.err = cmd.Wait()
		if w.proc != nil {
			w.proc.Close()
		}
		close(w.status)
	}()
	if err := w.enc.Encode(setup{Check: cfg.Check, Pattern: cfg.Pattern, Limits: cfg.Limits, Blanks: cfg.Blanks, CheckBlanks: cfg.CheckBlanks}); err != nil {
		w.kill()
		return nil, fmt.Errorf("send setup: %w (%s)", err, w.why())
	}
	return w, nil
}

// call sends one request and waits for its answer, watching the process's
// memory and the time. limit says why the process ended, when it did.
func (w *worker) call(ctx context.Context, req request, lim Limits) (a answer, limit string, err error) {
	if err := w.enc.Encode(req); err != nil {
		return answer{}, "", fmt.Errorf("%w: %v", errGone, err)
	}
	type reply struct {
		a   answer
		err error
	}
	done := make(chan reply, 1)
	go func() {
		var r reply
		r.err = w.dec.Decode(&r.a)
		done <- r
	}()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()
	tick := time.NewTicker(pollRSS)
	defer tick.Stop()
	// killed ends the process and waits for the reader, which then fails.
	killed := func() {
		w.kill()
		<-done
	}
	for {
		select {
		case r := <-done:
			if r.err == nil {
				w.readPeak()
				return r.a, "", nil
			}
			return answer{}, w.why(), nil
		case <-tick.C:
			rss, hwm := procMemory(w.proc)
			w.peak = max(w.peak, hwm)
			if rss > lim.Memory {
				killed()
				return answer{}, fmt.Sprintf("memory: %d MiB resident, over the limit of %d MiB", rss>>20, lim.Memory>>20), nil
			}
		case <-timer.C:
			killed()
			return answer{}, fmt.Sprintf("time: no answer after %s", lim.Timeout), nil
		case <-ctx.Done():
			killed()
			return answer{}, "", ctx.Err()
		}
	}
}

func (w *worker) readPeak() {
	if _, hwm := procMemory(w.proc); hwm > w.peak {
		w.peak = hwm
	}
}

func (w *worker) hwm() int64 { return w.peak }

// kill ends the process at once and waits for it.
func (w *worker) kill() {
	_ = w.cmd.Process.Kill()
	<-w.status
}

// stop asks the process to exit (its stdin ends), and kills it if it has
// not after a second.
func (w *worker) stop() {
	w.stopMu.Do(func() {
		_ = w.stdin.Close()
		select {
		case <-w.status:
		case <-time.After(time.Second):
			w.kill()
		}
	})
}

// why waits for the process to end and says how it ended, in English.
func (w *worker) why() string {
	select {
	case <-w.status:
	case <-time.After(5 * time.Second):
		w.kill()
	}
	var ee *exec.ExitError
	if !errors.As(w.err, &ee) {
		if w.err == nil {
			return "parser process exited" + w.stderr.last()
		}
		return fmt.Sprintf("parser process: %v", w.err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL:
		return "killed (SIGKILL): CPU time hard limit, or the system ran out of memory"
	case ok && ws.Signaled():
		return "killed by " + ws.Signal().String()
	case ee.ExitCode() == exitCPU:
		return "CPU time limit"
	case ee.ExitCode() == exitSetup:
		return "the parser process could not set its limits" + w.stderr.last()
	}
	out := w.stderr.String()
	switch {
	case strings.Contains(out, "out of memory") || strings.Contains(out, "cannot allocate memory"):
		return "memory: out of address space"
	case strings.Contains(out, "stack exceeds"), strings.Contains(out, "stack overflow"):
		return "stack overflow (deep nesting)"
	}
	return fmt.Sprintf("parser process crashed (exit status %d)%s", ee.ExitCode(), w.stderr.last())
}

// procMemory reads VmRSS and VmHWM, in bytes, from a process's open
// /proc/PID/status (0 when gone or unknown).
func procMemory(status *os.File) (rss, hwm int64) {
	if status == nil {
		return 0, 0
	}
	var buf [4096]byte // the whole file is ~1.5 KiB; the memory lines come early
	n, _ := status.ReadAt(buf[:], 0)
	b := buf[:n]
	return statusField(b, "VmRSS:"), statusField(b, "VmHWM:")
}

// statusField reads a "Key:   123 kB" line of /proc/*/status, in bytes.
func statusField(b []byte, key string) int64 {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0
	}
	line := b[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	if len(f) > 1 && f[1] == "kB" {
		n <<= 10
	}
	return n
}

// tail keeps the first and the last max bytes written to it: the parser's
// stderr, where the Go runtime says why it died (first) and where (last).
type tail struct {
	mu         sync.Mutex
	max        int
	head, buf  []byte
	overflowed bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if room := t.max - len(t.head); room > 0 {
		k := min(room, len(p))
		t.head = append(t.head, p[:k]...)
		p = p[k:]
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.overflowed = true
	}
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.overflowed {
		return string(t.head) + "\n...\n" + string(t.buf)
	}
	return string(t.head) + string(t.buf)
}

// last returns ": " and the first line of the runtime's report (fatal
// error, panic), or of what was written last; "" when nothing was.
func (t *tail) last() string {
	s := t.String()
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime:") {
			return ": " + l
		}
	}
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return ""
	}
	return ": " + s
}
