package ingest

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pages"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/store"
)

// TrimmedPath is where a scan's copy without its blank pages lives until it
// is uploaded. Its name carries the scan's SHA-256, like the repaired copy's,
// so that Recover removes it when the scan was never recorded.
func (in *Ingester) TrimmedPath(sha string) string {
	return filepath.Join(in.spool, sha+".trimmed.pdf")
}

// ContentPath is the file an upload job delivers: the scan, its repaired
// copy, or its copy without blank pages.
func (in *Ingester) ContentPath(j store.Job) string {
	if j.Trimmed {
		return in.TrimmedPath(j.SHA256)
	}
	return in.SpoolPath(j.SHA256, j.Repaired)
}

// blanks returns the blank pages of a checked scan that may be left out of
// what is uploaded (see droppable); none when the check did not look for
// them. read are the pages its receipts' reader saw (may be nil).
func blanks(checked pdfcheck.Result, read []barcode.Page) []int {
	if !checked.BlankSearched || checked.Pages < 2 {
		return nil
	}
	return droppable(checked.Pages, checked.Blank, read)
}

// droppable returns which of the blank pages of a document of n pages may
// be left out of what is uploaded: never a page on which a receipt's code
// was read (read may be nil), and never every page.
func droppable(n int, blank []int, read []barcode.Page) []int {
	var drop []int
	for _, b := range blank {
		if b < 1 || b > n || slices.ContainsFunc(read, func(p barcode.Page) bool { return p.Index == b && len(p.Codes) > 0 }) {
			continue
		}
		drop = append(drop, b)
	}
	if len(drop) >= n {
		return nil
	}
	return drop
}

// trim leaves the blank pages blank (its fate's), and the receipt pages
// when DropReceipts is set (those of read, the pages its receipts' reader
// saw), out of a valid scan that is not split: it writes the copy without
// them to TrimmedPath (temporary file, fsync, rename, fsync of the spool)
// and notes it in sc, to be recorded with the scan in one transaction. A
// crash before the record leaves a copy that Recover removes; the inbox
// file is then taken again, and nothing was queued. A copy that cannot be
// made leaves every page in.
func (in *Ingester) trim(ctx context.Context, sc *store.Scan, blank []int, read []barcode.Page, log *slog.Logger) error {
	src := in.SpoolPath(sc.SHA256, sc.Repaired)
	drop := slices.Clone(blank)
	if receipts := in.receiptPages(read); len(receipts)+len(drop) < sc.Pages {
		drop = append(drop, receipts...)
	}
	if len(drop) == 0 {
		return nil
	}
	keep := make([]int, 0, sc.Pages-len(drop))
	for p := 1; p <= sc.Pages; p++ {
		if !slices.Contains(drop, p) {
			keep = append(keep, p)
		}
	}
	dst := in.TrimmedPath(sc.SHA256)
	if err := pages.Extract(ctx, src, dst, keep); err != nil {
		if ctx.Err() != nil {
			return err
		}
		log.Warn("copy without blank or receipt pages not made; every page is uploaded", "sha256", sc.SHA256, "err", err)
		return nil
	}
	sha, size, err := hashFile(dst)
	if err != nil {
		return err
	}
	sc.BlankDropped, sc.ReceiptsDropped = len(blank), len(drop)-len(blank)
	sc.Trimmed, sc.TrimmedSHA256, sc.TrimmedSize = true, sha, size
	log.Info("pages left out of the upload", "sha256", sc.SHA256, "blank", blank,
		"receipts", len(drop)-len(blank), "pages", sc.Pages, "bytes", size)
	return nil
}

// receiptPages returns the pages on which a receipt's code was read, when
// receipts are left out of uploads; else none.
func (in *Ingester) receiptPages(read []barcode.Page) []int {
	if !in.cfg.DropReceipts {
		return nil
	}
	var out []int
	for _, p := range read {
		if len(p.Codes) > 0 {
			out = append(out, p.Index)
		}
	}
	return out
}

// withoutBlanks removes the droppable blank pages from the parts of a batch
// (a receipt's page is never one), and with dropReceipts each part's
// opening receipt page, and returns how many blank pages each part lost. A
// part keeps its pages when all would go.
func withoutBlanks(parts []Part, drop []int, dropReceipts bool) []int {
	lost := make([]int, len(parts))
	for i := range parts {
		kept := slices.DeleteFunc(slices.Clone(parts[i].Pages), func(p int) bool { return slices.Contains(drop, p) })
		if len(kept) == 0 {
			continue
		}
		lost[i] = len(parts[i].Pages) - len(kept)
		if dropReceipts && parts[i].Code != "" && len(kept) > 1 && kept[0] == parts[i].Pages[0] {
			kept = kept[1:]
		}
		parts[i].Pages = kept
	}
	return lost
}
