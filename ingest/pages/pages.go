// Package pages writes a new PDF made of chosen pages of another, as they
// are: the parts of a batch scan split at its receipts, or a scan without
// its blank back sides.
//
// pdfcpu copies the chosen pages with the objects they use; streams are
// copied as stored, so page images are never re-encoded. The result is
// checked (it opens, and has exactly the pages asked for) before it is
// written to a temporary file beside dst, fsynced and renamed over dst.
//
// pdfcpu is given a configuration from ingest/pdfdoc, which does not create
// a configuration directory under the user's home. No pdfcpu package
// variable is changed, and nothing is written outside dst's directory.
package pages

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// maxBytes caps the source file read into memory.
const maxBytes = 1 << 30

// Extract writes to dst a PDF made of the given pages of src (1-based, in
// the order given, each at most once). dst is replaced atomically: it is
// either the complete new file or what it was before. Extract is safe for
// concurrent use with different dst.
func Extract(ctx context.Context, src, dst string, pages []int) error {
	if err := checkPages(pages); err != nil {
		return fmt.Errorf("extract pages of %s: %w", src, err)
	}
	data, err := pdfdoc.ReadFile(src, maxBytes)
	if err != nil {
		return fmt.Errorf("extract pages: %w", err)
	}
	out, err := bounded(ctx, func() ([]byte, error) { return extract(ctx, data, pages) })
	if err != nil {
		return fmt.Errorf("extract pages %v of %s: %w", pages, src, err)
	}
	if err := atomicfile.Write(dst, out, 0o600); err != nil {
		return fmt.Errorf("extract pages of %s: write %s: %w", src, dst, err)
	}
	return nil
}

func checkPages(pages []int) error {
	if len(pages) == 0 {
		return errors.New("no pages asked for")
	}
	seen := make(map[int]bool, len(pages))
	for _, p := range pages {
		if p < 1 {
			return fmt.Errorf("page number %d", p)
		}
		if seen[p] {
			return fmt.Errorf("page %d asked for twice", p)
		}
		seen[p] = true
	}
	return nil
}

// bounded runs f in a goroutine, turning its panics into errors, and gives
// up when ctx ends (the goroutine then stops at pdfcpu's next check of ctx).
func bounded(ctx context.Context, f func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("pdfcpu panic: %v", p)}
			}
			done <- r
		}()
		r.b, r.err = f()
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// extract builds the new document in memory and checks it.
func extract(ctx context.Context, data []byte, pages []int) ([]byte, error) {
	doc, err := open(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if err := doc.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("count pages: %w", err)
	}
	for _, p := range pages {
		if p > doc.PageCount {
			return nil, fmt.Errorf("page %d of a document of %d pages", p, doc.PageCount)
		}
	}
	part, err := pdfcpu.ExtractPages(doc, pages, false)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := api.WriteContext(part, &buf); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	check, err := open(ctx, buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("the new document does not open: %w", err)
	}
	if err := check.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("the new document: count pages: %w", err)
	}
	if check.PageCount != len(pages) {
		return nil, fmt.Errorf("the new document has %d pages, want %d", check.PageCount, len(pages))
	}
	return buf.Bytes(), nil
}

// open reads and validates data with pdfcpu in relaxed mode.
func open(ctx context.Context, data []byte) (*model.Context, error) {
	doc, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), pdfConfig(int64(len(data))))
	if err != nil {
		return nil, err
	}
	if err := api.ValidateContext(doc); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

// pdfConfig returns a fresh pdfcpu configuration for reading data of size
// bytes (no stream is larger than the file).
func pdfConfig(size int64) *model.Configuration {
	return pdfdoc.Config(pdfdoc.Options{MaxStream: size, Cmd: model.COLLECT})
}
