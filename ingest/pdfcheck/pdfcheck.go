// Package pdfcheck decides whether a scanned file is a PDF that the provincial
// system will accept: not empty, under the size cap, a PDF that opens without a
// user password, is not truncated, has at least one page, and whose scanned
// pages reach the minimum resolution (Circular 02/2019/TT-BNV: 200 dpi).
//
// Parsing and validation (relaxed mode) are done by pdfcpu, which reads the
// file through pread (our own checks read it mapped into memory), in a
// goroutine that recovers panics and is abandoned when the time budget or the
// caller's context runs out. Image resolution is taken from
// the image XObjects' /Width and /Height; image data is never decoded.
//
// Files whose cross-reference table is broken but whose objects are intact,
// such as those written by SANE's scanimage, are repaired: pdfcpu rebuilds the
// table, a clean copy is written, and the verdict is the clean copy's.
//
// pdfcpu is given a configuration from ingest/pdfdoc rather than
// model.NewDefaultConfiguration, which would create a configuration directory
// under the user's home (denied under systemd's ProtectHome). No pdfcpu
// package variable is changed, and nothing is written outside repairedDst's
// directory.
package pdfcheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/reason"
)

// Defaults for the zero fields of Limits.
const (
	DefaultMinDPI   = 200
	DefaultMaxBytes = 30 << 20
	DefaultMaxTime  = 30 * time.Second
)

// Limits are the acceptance rules. The zero value means the defaults.
type Limits struct {
	MinDPI   float64 // lowest acceptable page image resolution; zero: 200
	MaxBytes int64   // size cap, checked before parsing; zero: 30 MiB
	// MaxTime bounds the parse of one file; a file that takes longer is
	// rejected as unreadable (hostile or pathological). Zero: 30 s.
	MaxTime time.Duration
	// BlankTime bounds the Checker's blank page search of one file, within
	// MaxTime; a search cut short finds no blank page. Zero: MaxTime/4.
	BlankTime time.Duration
	// RequireColor rejects a file none of whose page images is in colour
	// (reason.NotColor); false: it is only reported (FormatNotColor).
	RequireColor bool
}

func (l Limits) withDefaults() Limits {
	if l.MinDPI <= 0 {
		l.MinDPI = DefaultMinDPI
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxTime <= 0 {
		l.MaxTime = DefaultMaxTime
	}
	if l.BlankTime <= 0 || l.BlankTime > l.MaxTime {
		l.BlankTime = l.MaxTime / 4
	}
	return l
}

// Result is the verdict on one file.
type Result struct {
	Reason reason.Code // "" when valid
	Detail string      // English detail for logs, e.g. "page 2: 100 dpi below 200"
	Pages  int
	// MinDPI is the lowest resolution among pages that carry images; 0 when no
	// page has an image.
	MinDPI float64
	// Repaired reports that the file needed repair and that the verdict is the
	// repaired copy's. It is only set on valid results; the copy was then
	// written (fsynced) to repairedDst, unless repairedDst was empty.
	Repaired bool
	// Flags name content a scanner never writes (FlagFonts, FlagJavaScript,
	// FlagEmbeddedFiles), found in a file that opened; nil when none. They
	// do not change the verdict: see the Flag constants.
	Flags []string
	// Format holds the format findings (FormatNotColor, FormatPDFVersion)
	// of a file that opened; nil when none.
	Format []string
	// BlankSearched reports that the Checker's BlankFinder looked at the
	// pages of this valid file, in the check's own parse; Blank then holds
	// the blank pages it found (1-based, in order). A file of one page is
	// not searched: its only page is never left out.
	BlankSearched bool
	Blank         []int
}

// BlankFinder tells the blank pages of a document that passed its check
// (*barcode.BlankFinder is one). It is given the check's own parse, so a
// file is parsed once for both.
type BlankFinder interface {
	BlankPages(ctx context.Context, doc *model.Context) ([]int, error)
}

// Checker checks files against Limits. The zero value uses the defaults and
// is safe for concurrent use.
type Checker struct {
	Limits Limits
	// Blanks, when set, is asked for the blank pages of every valid file
	// (the repaired copy's, for a repaired file), within the check's time
	// bound. Its failure or panic only means none were found: it never
	// changes the verdict.
	Blanks BlankFinder
	// QuietReads makes pdfcpu read the file through system calls the Go
	// scheduler is not told of, which never give up the processor (see
	// quietReader): for a process that checks one file at a time and
	// runs nothing else meanwhile, such as a parser process.
	QuietReads bool
}

// Check judges the file src. If it needs repair and the repaired copy is
// valid, the copy is written atomically to repairedDst (an empty repairedDst
// means judge only, write nothing).
//
// Any problem with the file's content is reported as a Result with a Reason.
// An error is returned only when src cannot be read or repairedDst cannot be
// written, or when ctx ends before a verdict: the caller should try again
// later. Check does not panic.
func (c *Checker) Check(ctx context.Context, src, repairedDst string) (Result, error) {
	lim := c.Limits.withDefaults()
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("check %s: %w", src, err)
	}
	in, res, err := load(src, lim.MaxBytes, c.QuietReads)
	if err != nil || res.Reason != "" {
		return res, err
	}
	v, err := inspectBounded(ctx, lim, c.Blanks, in)
	if err != nil {
		return Result{}, fmt.Errorf("check %s: %w", src, err)
	}
	if v.res.Repaired && repairedDst != "" {
		if err := atomicfile.Write(repairedDst, v.clean, 0o600); err != nil {
			return Result{}, fmt.Errorf("write repaired copy of %s: %w", src, err)
		}
	}
	return v.res, nil
}

// input is a file opened for inspection.
type input struct {
	// data is the file's bytes, mapped (see mapFile): our own checks read
	// the few parts they need from it.
	data []byte
	// file reads the same bytes through pread; nil: read data. pdfcpu reads
	// the file through it: it copies every stream into a new buffer, and
	// from a mapping that copy takes a page fault per 64 KiB of the file
	// besides, which is dear in a VM (BenchmarkCheck, docs/benchmarks.md).
	file io.ReaderAt
	// release unmaps data and closes the file; called once done.
	release func()
}

// reader returns a reader of the input's bytes from off on, for pdfcpu.
func (in input) reader(off int) io.ReadSeeker {
	if in.file == nil {
		return bytes.NewReader(in.data[off:])
	}
	return io.NewSectionReader(in.file, int64(off), int64(len(in.data)-off))
}

// load opens src and maps it into memory (see mapFile) after checking its
// type and size; quiet: pdfcpu's reads are quietReader's. The caller must
// call release once done with it.
func load(src string, maxBytes int64, quiet bool) (in input, res Result, err error) {
	fi, err := os.Stat(src)
	if err != nil {
		return input{}, Result{}, fmt.Errorf("check: %w", err)
	}
	if res, ok := sizeVerdict(fi, maxBytes); ok {
		return input{}, res, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return input{}, Result{}, fmt.Errorf("check: %w", err)
	}
	if fi, err = f.Stat(); err != nil { // the file we opened, not the name
		f.Close()
		return input{}, Result{}, fmt.Errorf("check: %w", err)
	}
	if res, ok := sizeVerdict(fi, maxBytes); ok {
		f.Close()
		return input{}, res, nil
	}
	data, unmap, err := mapFile(f, fi.Size())
	if err != nil {
		f.Close()
		return input{}, Result{}, fmt.Errorf("check: %w", err)
	}
	var file io.ReaderAt = f
	if quiet {
		file = quietFile(f)
	}
	return input{data: data, file: file, release: func() { unmap(); f.Close() }}, Result{}, nil
}

// sizeVerdict rejects what is not a regular file, empty, or over the cap.
func sizeVerdict(fi os.FileInfo, maxBytes int64) (Result, bool) {
	switch {
	case !fi.Mode().IsRegular():
		return Result{Reason: reason.NotRegular, Detail: fmt.Sprintf("file mode %s", fi.Mode().Type())}, true
	case fi.Size() == 0:
		return Result{Reason: reason.Empty, Detail: "0 bytes"}, true
	case fi.Size() > maxBytes:
		return Result{Reason: reason.TooLarge, Detail: fmt.Sprintf("%d bytes, over the cap of %d", fi.Size(), maxBytes)}, true
	}
	return Result{}, false
}

// inspectBounded runs inspect in a goroutine that owns data (it calls
// release when done) and recovers panics, and gives up when lim.MaxTime
// passes (a verdict: unreadable) or ctx ends (an error). An abandoned
// goroutine stops at pdfcpu's next context check; the validation step has
// none and runs to its end, bounded by the file size.
func inspectBounded(ctx context.Context, lim Limits, blanks BlankFinder, in input) (verdict, error) {
	pctx, cancel := context.WithTimeout(ctx, lim.MaxTime)
	defer cancel()
	done := make(chan verdict, 1)
	go func() {
		var v verdict
		defer func() {
			in.release()
			done <- v
		}()
		defer func() {
			switch r := recover(); r.(type) {
			case nil:
			case interface{ Addr() uintptr }: // a fault reading the mapped file: it shrank
				v = verdict{err: fmt.Errorf("file changed while being read: %v", r)}
			default:
				v = verdict{res: unreadable("parser panic: %v", r)}
			}
		}()
		debug.SetPanicOnFault(true)
		v = inspect(pctx, lim, blanks, in)
	}()
	var v verdict
	select {
	case v = <-done:
	case <-pctx.Done():
	}
	if err := ctx.Err(); err != nil {
		return verdict{}, err
	}
	if pctx.Err() != nil { // the verdict, if any, may come from a cancelled parse
		return verdict{res: unreadable("gave up after %s", lim.MaxTime)}, nil
	}
	return v, v.err
}
