package barcode

import (
	"bytes"
	"context"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
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

// pdfConfig returns a fresh pdfcpu configuration for reading files whose
// streams are at most maxStream bytes.
func pdfConfig(maxStream int64) *model.Configuration {
	return pdfdoc.Config(pdfdoc.Options{MaxStream: maxStream, Cmd: model.VALIDATE})
}

// maxPages caps the pages read per document.
const maxPages = 100000

// scanPages returns every page of the document with its size and largest
// image. A broken page tree ends the walk with the pages found so far.
// Image sizes are whole pixels up to 1<<24; other values count as none.
func scanPages(xt *model.XRefTable) ([]pageRef, error) {
	pp, err := pdfdoc.Walk{MaxPages: maxPages, ImageSize: pixelSize}.Pages(xt)
	var refs []pageRef
	for _, p := range pp {
		refs = append(refs, pageRef{w: p.W, h: p.H, img: p.Image.Stream, imgW: int(p.Image.W), imgH: int(p.Image.H), xt: xt})
	}
	return refs, err
}

// pixelSize reads an image's /Width and /Height as whole pixels.
func pixelSize(xt *model.XRefTable, d types.Dict) (w, h float64) {
	return float64(integer(xt, d, "Width")), float64(integer(xt, d, "Height"))
}

func integer(xt *model.XRefTable, d types.Dict, key string) int {
	v, ok := d.Find(key)
	if !ok {
		return 0
	}
	f, err := xt.DereferenceNumber(v)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<24 {
		return 0
	}
	return int(f)
}
