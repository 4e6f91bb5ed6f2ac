package pdfcheck

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// lostPages counts the page-tree entries that point at nothing: a missing
// object, or one the parser could not read (pdfcpu reads an object nested
// past its recursion limit as null). pdfcpu's relaxed validation replaces
// each with a blank page, so a scan whose pages are damaged would pass as
// blank pages; it must be judged before validation. Each node is visited
// once, at most pdfdoc.MaxTreeDepth deep.
func lostPages(xt *model.XRefTable) int {
	root, err := xt.Catalog()
	if err != nil {
		return 0 // judged by validation
	}
	pages, ok := root.Find("Pages")
	if !ok {
		return 0
	}
	seen := map[int]bool{}
	var walk func(o types.Object, depth int) int
	walk = func(o types.Object, depth int) int {
		if ir, ok := o.(types.IndirectRef); ok {
			if seen[ir.ObjectNumber.Value()] {
				return 0
			}
			seen[ir.ObjectNumber.Value()] = true
		}
		d, err := xt.DereferenceDict(o)
		if err != nil || d == nil {
			return 1
		}
		kids, ok := d.Find("Kids")
		if !ok || depth >= pdfdoc.MaxTreeDepth {
			return 0
		}
		a, err := xt.DereferenceArray(kids)
		if err != nil {
			return 0
		}
		lost := 0
		for _, k := range a {
			lost += walk(k, depth+1)
		}
		return lost
	}
	return walk(pages, 0)
}
