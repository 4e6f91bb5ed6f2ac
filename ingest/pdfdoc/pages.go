package pdfdoc

import (
	"errors"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds for walking hostile documents.
const (
	MaxTreeDepth = 64      // page tree levels
	MaxFormDepth = 8       // form XObjects nested in form XObjects
	MaxXObjects  = 100_000 // XObject dictionary entries looked at per document
)

// Page is one page's geometry and its largest image.
type Page struct {
	W, H  float64 // visible size in points (CropBox within MediaBox, times UserUnit); 0 without a usable MediaBox
	Image Image   // the page's largest image XObject; zero when none
	// Dict is the page dictionary and Resources its own or inherited
	// /Resources (nil when none), for callers that read its content.
	Dict      types.Dict
	Resources types.Object
}

// Image is an image XObject and its pixel size.
type Image struct {
	Stream *types.StreamDict // nil: no image
	W, H   float64           // by the walk's ImageSize rule; both > 0 when Stream is set
}

// Walk reads the pages of a document in order, without trusting /Count,
// visiting each page tree node once (linear in the size of the tree), with
// bounded depth and XObject budget.
type Walk struct {
	// MaxPages ends the walk with an error past this many pages; 0: no cap.
	MaxPages int
	// RequireMediaBox ends the walk with an error at a page without a
	// usable MediaBox; otherwise such a page has zero size.
	RequireMediaBox bool
	// ImageSize reads an image XObject's pixel size from its dictionary;
	// sizes that are not both > 0 do not count. nil: /Width and /Height
	// as finite numbers (see Number).
	ImageSize func(xt *model.XRefTable, img types.Dict) (w, h float64)
}

// Pages returns every page of the document with its size and largest image
// (the one of most pixels, looking into form XObjects; broken XObjects are
// skipped). When the walk fails, it returns the pages found before the
// failure with the error.
func (wk Walk) Pages(xt *model.XRefTable) ([]Page, error) {
	root, err := xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	pagesObj, ok := root.Find("Pages")
	if !ok || pagesObj == nil {
		return nil, nil
	}
	size := wk.ImageSize
	if size == nil {
		size = numberSize
	}
	w := walker{Walk: wk, size: size, xt: xt, seen: map[int]bool{}, forms: map[int]Image{}, xobjBud: MaxXObjects}
	err = w.node(pagesObj, inherited{}, 0)
	return w.pages, err
}

func numberSize(xt *model.XRefTable, d types.Dict) (float64, float64) {
	return Number(xt, d, "Width"), Number(xt, d, "Height")
}

// inherited holds the page attributes a page may inherit from its ancestors.
type inherited struct {
	resources, mediaBox, cropBox types.Object
}

type walker struct {
	Walk
	size    func(*model.XRefTable, types.Dict) (float64, float64)
	xt      *model.XRefTable
	pages   []Page
	seen    map[int]bool  // page tree nodes visited: no loops, no shared subtrees
	forms   map[int]Image // largest image per form XObject
	xobjBud int
}

func (w *walker) node(o types.Object, inh inherited, depth int) error {
	if depth > MaxTreeDepth {
		return fmt.Errorf("page tree deeper than %d levels", MaxTreeDepth)
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
	if w.MaxPages > 0 && len(w.pages) >= w.MaxPages {
		return fmt.Errorf("more than %d pages", w.MaxPages)
	}
	n := len(w.pages) + 1
	pw, ph, ok := PageSize(w.xt, d, inh.mediaBox, inh.cropBox)
	if !ok && w.RequireMediaBox {
		return fmt.Errorf("page %d: %w", n, errors.New("no usable MediaBox"))
	}
	img, err := w.largestImage(inh.resources, 0)
	if err != nil {
		return fmt.Errorf("page %d: %w", n, err)
	}
	w.pages = append(w.pages, Page{W: pw, H: ph, Image: img, Dict: d, Resources: inh.resources})
	return nil
}

// PageSize returns a page's visible size in points: the CropBox clipped to
// the MediaBox (the CropBox is ignored when the two do not overlap), times
// the page's /UserUnit. mediaBox and cropBox are the page's own or
// inherited entries (nil when absent). ok is false, with zero size, when
// there is no usable MediaBox.
func PageSize(xt *model.XRefTable, page types.Dict, mediaBox, cropBox types.Object) (w, h float64, ok bool) {
	media, ok := Rect(xt, mediaBox)
	if !ok {
		return 0, 0, false
	}
	box := media
	if crop, ok := Rect(xt, cropBox); ok {
		c := [4]float64{max(crop[0], media[0]), max(crop[1], media[1]), min(crop[2], media[2]), min(crop[3], media[3])}
		if c[2] > c[0] && c[3] > c[1] {
			box = c
		}
	}
	unit := 1.0
	if v, ok := page.Find("UserUnit"); ok {
		if u, err := xt.DereferenceNumber(v); err == nil && u > 0 && u < 1e6 {
			unit = u
		}
	}
	return (box[2] - box[0]) * unit, (box[3] - box[1]) * unit, true
}

// Rect returns a rectangle array normalised to [llx lly urx ury]; ok is
// false unless it is four finite numbers enclosing a positive area.
func Rect(xt *model.XRefTable, o types.Object) (r [4]float64, ok bool) {
	if o == nil {
		return r, false
	}
	a, err := xt.DereferenceArray(o)
	if err != nil || len(a) != 4 {
		return r, false
	}
	for i, v := range a {
		f, err := xt.DereferenceNumber(v)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return r, false
		}
		r[i] = f
	}
	r = [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}
	return r, r[2] > r[0] && r[3] > r[1]
}

// Number returns d's entry key as a finite number, or 0.
func Number(xt *model.XRefTable, d types.Dict, key string) float64 {
	v, ok := d.Find(key)
	if !ok {
		return 0
	}
	f, err := xt.DereferenceNumber(v)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// largestImage returns the image XObject of the most pixels reachable from a
// resource dictionary, looking into form XObjects. Broken XObjects are
// skipped: the document was read in relaxed mode.
func (w *walker) largestImage(res types.Object, depth int) (Image, error) {
	var best Image
	if res == nil || depth > MaxFormDepth {
		return best, nil
	}
	rd, err := w.xt.DereferenceDict(res)
	if err != nil || rd == nil {
		return best, nil
	}
	xo, ok := rd.Find("XObject")
	if !ok {
		return best, nil
	}
	xd, err := w.xt.DereferenceDict(xo)
	if err != nil || xd == nil {
		return best, nil
	}
	for _, v := range xd {
		if w.xobjBud--; w.xobjBud < 0 {
			return best, fmt.Errorf("more than %d XObject references", MaxXObjects)
		}
		sd, _, err := w.xt.DereferenceStreamDict(v)
		if err != nil || sd == nil {
			continue
		}
		var cand Image
		switch st := sd.Dict.Subtype(); {
		case st == nil:
			continue
		case *st == "Image":
			cand.Stream = sd
			cand.W, cand.H = w.size(w.xt, sd.Dict)
		case *st == "Form":
			if cand, err = w.formImage(v, sd, depth); err != nil {
				return best, err
			}
		}
		if cand.W > 0 && cand.H > 0 && cand.W*cand.H > best.W*best.H {
			best = cand
		}
	}
	return best, nil
}

// formImage returns the largest image inside a form XObject, once per form.
func (w *walker) formImage(ref types.Object, sd *types.StreamDict, depth int) (Image, error) {
	ir, ok := ref.(types.IndirectRef)
	if !ok {
		return w.largestImage(sd.Dict["Resources"], depth+1)
	}
	nr := ir.ObjectNumber.Value()
	if s, ok := w.forms[nr]; ok { // done, or in progress (a loop): none
		return s, nil
	}
	w.forms[nr] = Image{}
	img, err := w.largestImage(sd.Dict["Resources"], depth+1)
	w.forms[nr] = img
	return img, err
}
