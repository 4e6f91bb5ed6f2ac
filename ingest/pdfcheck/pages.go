package pdfcheck

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

const pointsPerInch = 72

// page is what the resolution rule needs from one page.
type page struct {
	w, h       float64 // visible page size in points (CropBox within MediaBox, times UserUnit)
	imgW, imgH float64 // pixel size of the page's largest image XObject; 0 when none
	colour     bool    // that image is in colour (see isColour)
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

// scanPages returns every page of the document with its size and largest
// image. A page without a usable MediaBox is an error; image sizes are
// /Width and /Height as numbers.
func scanPages(xt *model.XRefTable) ([]page, error) {
	pp, err := pdfdoc.Walk{RequireMediaBox: true}.Pages(xt)
	if err != nil {
		return nil, err
	}
	pages := make([]page, len(pp))
	for i, p := range pp {
		pages[i] = page{w: p.W, h: p.H, imgW: p.Image.W, imgH: p.Image.H}
		if p.Image.Stream != nil {
			pages[i].colour = isColour(xt, p.Image.Stream.Dict)
		}
	}
	return pages, nil
}
