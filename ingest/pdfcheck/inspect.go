package pdfcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
	"github.com/sohoa/sohoa/ingest/reason"
)

const (
	headerWindow = 1024 // how far into the file the %PDF- header may start
	eofWindow    = 1024 // how far from the end the %%EOF marker may be
)

// verdict is inspect's outcome: the result and, when repaired, the clean
// file; err is set when the file could not be read (not a content problem).
type verdict struct {
	res   Result
	clean []byte
	err   error
}

// inspect judges the PDF in. Files whose own cross-reference data
// is unusable are read through pdfcpu's reconstruction, rewritten in memory,
// and the rewritten bytes are judged from scratch.
//
// Bytes before the %PDF- header are not the document's: its offsets count
// from the header, as readers take them. Such a file is judged from its
// header on and, if valid, written again without them: a repaired copy.
func inspect(ctx context.Context, lim Limits, blanks BlankFinder, in input) verdict {
	data := in.data
	junk := bytes.Index(data[:min(len(data), headerWindow)], []byte("%PDF-"))
	if junk < 0 {
		return verdict{res: Result{Reason: reason.NotPDF, Detail: fmt.Sprintf("no %%PDF- header in the first %d bytes", headerWindow)}}
	}
	data = data[junk:]
	broken := xrefProblem(data)
	if broken != "" && !bytes.Contains(data[max(0, len(data)-eofWindow):], []byte("%%EOF")) {
		// Rebuilding the table of a file cut short would accept the pages
		// that happen to be complete: only whole files are repaired.
		return verdict{res: unreadable("truncated: no %%%%EOF at the end; cross-reference table: %s", broken)}
	}
	doc, res := open(ctx, lim, in.reader(junk))
	if res.Reason != "" {
		if broken != "" {
			res.Detail += "; cross-reference table: " + broken
		}
		return verdict{res: res}
	}
	if broken == "" {
		res := findBlanks(ctx, lim, blanks, doc, judge(doc, lim))
		if junk == 0 || res.Reason != "" {
			return verdict{res: res}
		}
		res.Repaired = true
		res.Detail = fmt.Sprintf("removed %d bytes before the %%PDF- header", junk)
		return verdict{res: res, clean: bytes.Clone(data)} // data is unmapped once inspect returns
	}

	clean, err := rewrite(ctx, lim, doc, len(data))
	if err != nil {
		return verdict{res: unreadable("repair: write: %v (cross-reference table: %s)", err, broken)}
	}
	if p := xrefProblem(clean); p != "" {
		return verdict{res: unreadable("repair: rewritten file still broken: %s", p)}
	}
	doc, res = open(ctx, lim, bytes.NewReader(clean))
	if res.Reason == "" {
		res = judge(doc, lim)
	}
	if res.Reason != "" {
		res.Detail = "after repair: " + res.Detail
		return verdict{res: res}
	}
	res.Repaired = true
	res.Detail = "repaired cross-reference table: " + broken
	if junk > 0 {
		res.Detail += fmt.Sprintf("; removed %d bytes before the %%PDF- header", junk)
	}
	return verdict{res: findBlanks(ctx, lim, blanks, doc, res), clean: clean}
}

// findBlanks asks blanks, if any, for the blank pages of a valid document,
// for at most lim.BlankTime. A failure, panic or timeout of the finder leaves
// res as it is: no page is called blank, and the verdict stands.
func findBlanks(ctx context.Context, lim Limits, blanks BlankFinder, doc *model.Context, res Result) Result {
	if blanks == nil || res.Reason != "" || res.Pages < 2 {
		return res // a file's only page is never left out: nothing to search
	}
	if found, ok := searchBlanks(ctx, lim, blanks, doc); ok {
		res.BlankSearched, res.Blank = true, found
	}
	return res
}

// searchBlanks runs blanks on doc; ok is false when it failed, panicked or
// ran out of time.
func searchBlanks(ctx context.Context, lim Limits, blanks BlankFinder, doc *model.Context) (found []int, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, lim.BlankTime)
	defer cancel()
	defer func() {
		if recover() != nil {
			found, ok = nil, false
		}
	}()
	found, err := blanks.BlankPages(ctx, doc)
	if err != nil || ctx.Err() != nil {
		return nil, false
	}
	return found, true
}

// open reads the PDF rs gives and validates it with pdfcpu in relaxed mode.
func open(ctx context.Context, lim Limits, rs io.ReadSeeker) (*model.Context, Result) {
	doc, err := pdfcpu.ReadWithContext(ctx, rs, pdfConfig(lim))
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) {
			return nil, Result{Reason: reason.Encrypted, Detail: "needs a user password: " + err.Error()}
		}
		return nil, unreadable("read: %v", err)
	}
	if n := lostPages(doc.XRefTable); n > 0 {
		return nil, unreadable("page tree: %d pages missing or unreadable", n)
	}
	if err := validate.XRefTable(doc); err != nil {
		return nil, unreadable("validate: %v", err)
	}
	return doc, Result{}
}

// judge applies the page and resolution rules to a validated document.
func judge(doc *model.Context, lim Limits) Result {
	pages, err := scanPages(doc.XRefTable)
	if err != nil {
		return unreadable("%v", err)
	}
	res := Result{Pages: len(pages), Flags: contentFlags(doc.XRefTable)}
	if len(pages) == 0 {
		res.Reason, res.Detail = reason.NoPages, "page tree is empty"
		return res
	}
	res.Format = formatFindings(doc.XRefTable, pages)
	worst := 0
	for i, p := range pages {
		d, ok := p.dpi()
		if !ok {
			continue
		}
		if res.MinDPI == 0 || d < res.MinDPI {
			res.MinDPI, worst = d, i+1
		}
	}
	// A scanner's page size is rounded to whole points; judge whole dpi.
	if res.MinDPI > 0 && math.Round(res.MinDPI) < lim.MinDPI {
		res.Reason = reason.LowDPI
		res.Detail = fmt.Sprintf("page %d: %.0f dpi below %.0f", worst, res.MinDPI, lim.MinDPI)
	} else if lim.RequireColor && slices.Contains(res.Format, FormatNotColor) {
		res.Reason, res.Detail = reason.NotColor, "no page image is in colour (check.require_color)"
	}
	return res
}

func unreadable(format string, args ...any) Result {
	return Result{Reason: reason.Unreadable, Detail: fmt.Sprintf(format, args...)}
}

// pdfConfig returns a fresh pdfcpu configuration for checking files of at
// most lim.MaxBytes. Repaired copies are written with a classic table, as
// scanners write, and no compression work.
func pdfConfig(lim Limits) *model.Configuration {
	return pdfdoc.Config(pdfdoc.Options{MaxStream: lim.MaxBytes, ClassicXRef: true, Cmd: model.VALIDATE})
}
