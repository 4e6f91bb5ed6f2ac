package pdfcheck

import (
	"errors"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds for walking hostile documents.
const (
	maxTreeDepth = 64      // page tree levels
	maxFormDepth = 8       // form XObjects nested in form XObjects
	maxXObjects  = 100_000 // XObject dictionary entries looked at per document
)

const pointsPerInch = 72

// page is what the resolution rule needs from one page.
type page struct {
	w, h       float64 // visible page size in points (CropBox within MediaBox, times UserUnit)
	imgW, imgH float64 // pixel size of the page's largest image XObject; 0 when none
}

// dpi returns the page's resolution, pairing the image's long side with the
// page's long side so that /Rotate and images drawn rotated do not matter,
// and taking the lower of the two axes. ok is false for pages without an
// image, which are not judged (born-digital pages).
func (p page) dpi() (dpi float64, ok bool) {
	if p.imgW <= 0 || p.imgH <= 0 {
		return 0, false
	}
	pl, ps := max(p.w, p.h), min(p.w, p.h)
	il, is := max(p.imgW, p.imgH), min(p.imgW, p.imgH)
	return min(il*pointsPerInch/pl, is*pointsPerInch/ps), true
}

// inherited holds the page attributes a page may inherit from its ancestors.
type inherited struct {
	resources, mediaBox, cropBox types.Object
}

// walker collects pages in document order without trusting /Count, visiting
// each page tree node once, so that it is linear in the size of the tree.
type walker struct {
	xt      *model.XRefTable
	pages   []page
	seen    map[int]bool                   // page tree nodes visited: no loops, no shared subtrees
	forms   map[int]struct{ w, h float64 } // largest image per form XObject
	xobjBud int
}

// scanPages returns every page of the document with its size and largest image.
func scanPages(xt *model.XRefTable) ([]page, error) {
	root, err := xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	pagesObj, ok := root.Find("Pages")
	if !ok || pagesObj == nil {
		return nil, nil
	}
	w := walker{xt: xt, seen: map[int]bool{}, forms: map[int]struct{ w, h float64 }{}, xobjBud: maxXObjects}
	if err := w.node(pagesObj, inherited{}, 0); err != nil {
		return nil, err
	}
	return w.pages, nil
}

func (w *walker) node(o types.Object, inh inherited, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page tree deeper than %d levels", maxTreeDepth)
	}
	if ir, ok := o.(types.IndirectRef); ok {
		nr := ir.ObjectNumber.Value()
		if w.seen[nr] {
			return fmt.Errorf("page tree visits object %d twice", nr)
		}
		w.seen[nr] = true
	}
	d, err := w.xt.DereferenceDict(o)
	if err != nil {
		return fmt.Errorf("page tree node: %w", err)
	}
	if d == nil { // a reference to a missing object is null
		return nil
	}
	inherit(d, "Resources", &inh.resources)
	inherit(d, "MediaBox", &inh.mediaBox)
	inherit(d, "CropBox", &inh.cropBox)
	kids, hasKids := d.Find("Kids")
	if t := d.Type(); (t != nil && *t == "Pages") || (t == nil && hasKids) {
		a, err := w.xt.DereferenceArray(kids)
		if err != nil {
			return fmt.Errorf("page tree Kids: %w", err)
		}
		for _, k := range a {
			if err := w.node(k, inh, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return w.leaf(d, inh)
}

func inherit(d types.Dict, key string, dst *types.Object) {
	if v, ok := d.Find(key); ok && v != nil {
		*dst = v
	}
}

func (w *walker) leaf(d types.Dict, inh inherited) error {
	n := len(w.pages) + 1
	width, height, err := w.pageSize(d, inh)
	if err != nil {
		return fmt.Errorf("page %d: %w", n, err)
	}
	iw, ih, err := w.largestImage(inh.resources, 0)
	if err != nil {
		return fmt.Errorf("page %d: %w", n, err)
	}
	w.pages = append(w.pages, page{w: width, h: height, imgW: iw, imgH: ih})
	return nil
}

// pageSize returns the visible size: the CropBox clipped to the MediaBox.
func (w *walker) pageSize(d types.Dict, inh inherited) (float64, float64, error) {
	media, ok := w.rect(inh.mediaBox)
	if !ok {
		return 0, 0, errors.New("no usable MediaBox")
	}
	box := media
	if crop, ok := w.rect(inh.cropBox); ok {
		c := [4]float64{max(crop[0], media[0]), max(crop[1], media[1]), min(crop[2], media[2]), min(crop[3], media[3])}
		if c[2] > c[0] && c[3] > c[1] {
			box = c
		}
	}
	unit := 1.0
	if v, ok := d.Find("UserUnit"); ok {
		if u, err := w.xt.DereferenceNumber(v); err == nil && u > 0 && u < 1e6 {
			unit = u
		}
	}
	return (box[2] - box[0]) * unit, (box[3] - box[1]) * unit, nil
}

// rect returns a normalised rectangle [llx lly urx ury] of positive area.
func (w *walker) rect(o types.Object) ([4]float64, bool) {
	var r [4]float64
	if o == nil {
		return r, false
	}
	a, err := w.xt.DereferenceArray(o)
	if err != nil || len(a) != 4 {
		return r, false
	}
	for i, v := range a {
		f, err := w.xt.DereferenceNumber(v)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return r, false
		}
		r[i] = f
	}
	r = [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}
	return r, r[2] > r[0] && r[3] > r[1]
}

// largestImage returns the pixel size of the largest image XObject reachable
// from a resource dictionary, looking into form XObjects. Broken XObjects
// are skipped: validation has accepted the document.
func (w *walker) largestImage(res types.Object, depth int) (bw, bh float64, err error) {
	if res == nil || depth > maxFormDepth {
		return 0, 0, nil
	}
	rd, err := w.xt.DereferenceDict(res)
	if err != nil || rd == nil {
		return 0, 0, nil
	}
	xo, ok := rd.Find("XObject")
	if !ok {
		return 0, 0, nil
	}
	xd, err := w.xt.DereferenceDict(xo)
	if err != nil || xd == nil {
		return 0, 0, nil
	}
	for _, v := range xd {
		if w.xobjBud--; w.xobjBud < 0 {
			return 0, 0, fmt.Errorf("more than %d XObject references", maxXObjects)
		}
		sd, _, err := w.xt.DereferenceStreamDict(v)
		if err != nil || sd == nil {
			continue
		}
		var iw, ih float64
		switch st := sd.Dict.Subtype(); {
		case st == nil:
			continue
		case *st == "Image":
			iw, ih = w.number(sd.Dict, "Width"), w.number(sd.Dict, "Height")
		case *st == "Form":
			if iw, ih, err = w.formImage(v, sd, depth); err != nil {
				return 0, 0, err
			}
		}
		if iw > 0 && ih > 0 && iw*ih > bw*bh {
			bw, bh = iw, ih
		}
	}
	return bw, bh, nil
}

// formImage returns the largest image inside a form XObject, once per form.
func (w *walker) formImage(ref types.Object, sd *types.StreamDict, depth int) (float64, float64, error) {
	ir, ok := ref.(types.IndirectRef)
	if !ok {
		return w.largestImage(sd.Dict["Resources"], depth+1)
	}
	nr := ir.ObjectNumber.Value()
	if s, ok := w.forms[nr]; ok { // done, or in progress (a loop): zero
		return s.w, s.h, nil
	}
	w.forms[nr] = struct{ w, h float64 }{}
	iw, ih, err := w.largestImage(sd.Dict["Resources"], depth+1)
	w.forms[nr] = struct{ w, h float64 }{iw, ih}
	return iw, ih, err
}

func (w *walker) number(d types.Dict, key string) float64 {
	v, ok := d.Find(key)
	if !ok {
		return 0
	}
	f, err := w.xt.DereferenceNumber(v)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
