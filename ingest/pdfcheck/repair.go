package pdfcheck

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// rewrite writes the repaired document doc as a clean file whose
// cross-reference table has one entry for every object number below its
// trailer's /Size, the highest object number plus one, as strict readers
// (qpdf --check) require. pdfcpu writes only the objects it reaches, under
// their old numbers, and keeps the old /Size: a SANE file's stream lengths
// (objects of their own, written inline) leave gaps and a /Size too large.
// So the first write is read back, where the table holds exactly the
// objects written, and written again with the gaps as free entries and
// /Size one past the highest object.
func rewrite(ctx context.Context, lim Limits, doc *model.Context, sizeHint int) ([]byte, error) {
	first, err := write(doc, sizeHint)
	if err != nil {
		return nil, err
	}
	again, err := pdfcpu.ReadWithContext(ctx, bytes.NewReader(first), pdfConfig(lim))
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	compactTable(again.XRefTable)
	return write(again, len(first))
}

func write(doc *model.Context, sizeHint int) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(sizeHint + sizeHint/4)
	if err := api.WriteContext(doc, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compactTable sets xt's /Size to its highest object number plus one and
// makes every number below it without an entry a free entry, the free
// entries linked in ascending order from object 0, as the PDF
// specification's free list is (7.5.4); the last points back to 0.
func compactTable(xt *model.XRefTable) {
	highest := 0
	for n, e := range xt.Table {
		if e != nil && !e.Free {
			highest = max(highest, n)
		}
	}
	var free []int
	for n := 1; n <= highest; n++ {
		if e := xt.Table[n]; e == nil || e.Free {
			free = append(free, n)
		}
	}
	for n := range xt.Table {
		if n > highest {
			delete(xt.Table, n)
		}
	}
	slices.Sort(free)
	gen := types.FreeHeadGeneration
	head := &model.XRefTableEntry{Free: true, Offset: new(int64), Generation: &gen}
	xt.Table[0] = head
	link := head
	for _, n := range free {
		g := 0
		if e := xt.Table[n]; e != nil && e.Generation != nil {
			g = *e.Generation
		}
		e := &model.XRefTableEntry{Free: true, Offset: new(int64), Generation: &g}
		xt.Table[n] = e
		*link.Offset = int64(n)
		link = e
	}
	size := highest + 1
	xt.Size = &size
}
