package pdfcheck

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Format findings: the archives' input standard (Circular 02/2019/TT-BNV,
// restated for digitized dossier components by Circular 01/2023) asks for
// PDF 1.4 or later and colour images. Only FormatNotColor can reject a file
// (Limits.RequireColor); both are reported.
const (
	FormatNotColor   = "not_color"   // no page's image is in colour (grey or black and white)
	FormatPDFVersion = "pdf_version" // the file declares a PDF version below 1.4
)

// formatFindings returns the format findings of a document whose pages
// were scanned, in a stable order.
func formatFindings(xt *model.XRefTable, pages []page) []string {
	var f []string
	colour := false
	for _, p := range pages {
		colour = colour || p.colour
	}
	if !colour {
		f = append(f, FormatNotColor)
	}
	if xt.HeaderVersion != nil && xt.Version() < model.V14 {
		f = append(f, FormatPDFVersion)
	}
	return f
}

// isColour tells whether an image XObject is in colour: RGB, CMYK, Lab,
// an ICC profile of more than one component, an indexed or DeviceN space
// over those. An image whose colour space is not said (JPEG 2000) counts as
// colour, so that a rule on colour never rejects it for want of knowing.
func isColour(xt *model.XRefTable, img types.Dict) bool {
	if mask, ok := img.Find("ImageMask"); ok {
		if b, ok := mask.(types.Boolean); ok && b.Value() {
			return false
		}
	}
	cs, ok := img.Find("ColorSpace")
	if !ok {
		return true
	}
	return colourSpace(xt, cs, 0)
}

func colourSpace(xt *model.XRefTable, cs types.Object, depth int) bool {
	if depth > 4 {
		return true
	}
	cs, err := xt.Dereference(cs)
	if err != nil || cs == nil {
		return true
	}
	switch v := cs.(type) {
	case types.Name:
		switch v {
		case "DeviceGray", "CalGray", "G":
			return false
		}
		return true
	case types.Array:
		if len(v) == 0 {
			return true
		}
		name, _ := v[0].(types.Name)
		switch name {
		case "CalGray", "Separation":
			return false
		case "Indexed", "I":
			if len(v) > 1 {
				return colourSpace(xt, v[1], depth+1)
			}
		case "ICCBased":
			if len(v) > 1 {
				if sd, _, err := xt.DereferenceStreamDict(v[1]); err == nil && sd != nil {
					if n := sd.IntEntry("N"); n != nil {
						return *n > 1
					}
				}
			}
		}
	}
	return true
}
