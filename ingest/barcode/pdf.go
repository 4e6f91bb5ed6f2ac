package barcode

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Bounds for walking hostile documents (as in ingest/pdfcheck).
const (
	maxTreeDepth = 64     // page tree levels
	maxFormDepth = 8      // form XObjects nested in form XObjects
	maxXObjects  = 100000 // XObject dictionary entries looked at per document
	maxPages     = 100000 // pages per document
)

// pageRef is what reading a page needs: the page's largest image XObject.
type pageRef struct {
	w, h float64           // visible page size in points; 0 when unknown
	img  *types.StreamDict // nil: the page has no image XObject
	imgW int               // the image's /Width and /Height
	imgH int               //
	xt   *model.XRefTable  // to dereference the image's entries
}

// dpi returns the resolution of the page image: its long side over the
// page's long side, so that /Rotate does not matter. When the page size is
// unusable, A4 is assumed.
func (p pageRef) dpi() float64 {
	long := max(p.w, p.h)
	if long <= 0 || math.IsNaN(long) || math.IsInf(long, 0) {
		long = 841.89 // A4
	}
	return float64(max(p.imgW, p.imgH)) * 72 / long
}

// openPDF parses data with pdfcpu in relaxed mode, without validation (the
// pipeline's checker has judged the file; the page walk below trusts
// nothing).
func openPDF(ctx context.Context, data []byte, maxStream int64) (*model.Context, error) {
	return pdfcpu.ReadWithContext(ctx, bytes.NewReader(data), pdfConfig(maxStream))
}

// pdfConfig returns a fresh pdfcpu configuration built here rather than by
// model.NewDefaultConfiguration, which would create a configuration
// directory under the user's home. No pdfcpu package variable is changed.
func pdfConfig(maxStream int64) *model.Configuration {
	rl := model.DefaultResourceLimits()
	rl.MaxStreamBytes = maxStream
	rl.MaxDecodeBytes = 128 << 20 // object and xref streams; images are decoded here, bounded apart
	rl.MaxObjectCount = 1_000_000
	rl.MaxXRefEntries = 1_000_000
	return &model.Configuration{
		Version:                   model.VersionStr,
		Reader15:                  true,
		ValidationMode:            model.ValidationRelaxed,
		UnsupportedResourcePolicy: model.UnsupportedResourceSkip,
		Eol:                       types.EolLF,
		WriteObjectStream:         true,
		WriteXRefStream:           true,
		EncryptUsingAES:           true,
		EncryptKeyLength:          256,
		Permissions:               model.PermissionsPrint,
		TimestampFormat:           "2006-01-02 15:04",
		DateFormat:                "2006-01-02",
		Offline:                   true,
		Cmd:                       model.VALIDATE,
		Limits:                    rl,
	}
}

// inherited holds the page attributes a page may inherit from its ancestors.
type inherited struct {
	resources, mediaBox, cropBox types.Object
}

// walker collects pages in document order without trusting /Count, visiting
// each page tree node once, so that it is linear in the size of the tree.
type walker struct {
	xt      *model.XRefTable
	pages   []pageRef
	seen    map[int]bool
	forms   map[int]imageRef // largest image per form XObject
	xobjBud int
}

// imageRef is an image XObject and its pixel size.
type imageRef struct {
	sd   *types.StreamDict
	w, h int
}

// scanPages returns every page of the document with its size and largest
// image. A broken page tree ends the walk with the pages found so far.
func scanPages(xt *model.XRefTable) ([]pageRef, error) {
	root, err := xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	pagesObj, ok := root.Find("Pages")
	if !ok || pagesObj == nil {
		return nil, nil
	}
	w := walker{xt: xt, seen: map[int]bool{}, forms: map[int]imageRef{}, xobjBud: maxXObjects}
	err = w.node(pagesObj, inherited{}, 0)
	return w.pages, err
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
	if d == nil {
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
	if len(w.pages) >= maxPages {
		return fmt.Errorf("more than %d pages", maxPages)
	}
	pw, ph := w.pageSize(d, inh)
	img, err := w.largestImage(inh.resources, 0)
	if err != nil {
		return fmt.Errorf("page %d: %w", len(w.pages)+1, err)
	}
	w.pages = append(w.pages, pageRef{w: pw, h: ph, img: img.sd, imgW: img.w, imgH: img.h, xt: w.xt})
	return nil
}

func inherit(d types.Dict, key string, dst *types.Object) {
	if v, ok := d.Find(key); ok && v != nil {
		*dst = v
	}
}

// pageSize returns the visible size: the CropBox clipped to the MediaBox,
// or zeros when the page has no usable MediaBox.
func (w *walker) pageSize(d types.Dict, inh inherited) (float64, float64) {
	media, ok := w.rect(inh.mediaBox)
	if !ok {
		return 0, 0
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
	return (box[2] - box[0]) * unit, (box[3] - box[1]) * unit
}

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

// largestImage returns the image XObject of the most pixels reachable from a
// resource dictionary, looking into form XObjects. Broken XObjects are
// skipped.
func (w *walker) largestImage(res types.Object, depth int) (imageRef, error) {
	var best imageRef
	if res == nil || depth > maxFormDepth {
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
			return best, fmt.Errorf("more than %d XObject references", maxXObjects)
		}
		sd, _, err := w.xt.DereferenceStreamDict(v)
		if err != nil || sd == nil {
			continue
		}
		var cand imageRef
		switch st := sd.Dict.Subtype(); {
		case st == nil:
			continue
		case *st == "Image":
			cand = imageRef{sd: sd, w: w.integer(sd.Dict, "Width"), h: w.integer(sd.Dict, "Height")}
		case *st == "Form":
			if cand, err = w.formImage(v, sd, depth); err != nil {
				return best, err
			}
		}
		if cand.w > 0 && cand.h > 0 && int64(cand.w)*int64(cand.h) > int64(best.w)*int64(best.h) {
			best = cand
		}
	}
	return best, nil
}

// formImage returns the largest image inside a form XObject, once per form.
func (w *walker) formImage(ref types.Object, sd *types.StreamDict, depth int) (imageRef, error) {
	ir, ok := ref.(types.IndirectRef)
	if !ok {
		return w.largestImage(sd.Dict["Resources"], depth+1)
	}
	nr := ir.ObjectNumber.Value()
	if s, ok := w.forms[nr]; ok { // done, or in progress (a loop): none
		return s, nil
	}
	w.forms[nr] = imageRef{}
	img, err := w.largestImage(sd.Dict["Resources"], depth+1)
	w.forms[nr] = img
	return img, err
}

func (w *walker) integer(d types.Dict, key string) int {
	v, ok := d.Find(key)
	if !ok {
		return 0
	}
	f, err := w.xt.DereferenceNumber(v)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<24 {
		return 0
	}
	return int(f)
}
