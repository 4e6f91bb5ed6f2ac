package barcode

import (
	"errors"
	"fmt"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// imageParams are the entries of an image XObject that decoding needs,
// gathered from the dictionary and the filter pipeline.
type imageParams struct {
	w, h   int
	bpc    int       // bits per component of the samples (after the filters)
	cs     colorSpec // colour space; for masks, one component
	decode []float64 // /Decode, nil when absent
	mask   bool      // /ImageMask true

	filters []filterSpec // byte filters to apply first (Flate, LZW, ASCII85...)
	final   string       // image filter: DCTDecode, CCITTFaxDecode, JBIG2Decode, JPXDecode or ""
	fparms  map[string]int
}

type filterSpec struct {
	name  string
	parms map[string]int
}

// colorSpec tells how samples map to grey.
type colorSpec struct {
	n       int    // components per sample
	kind    string // "gray", "rgb", "cmyk", "lab", "indexed", "separation", "devicen"
	palette []byte // indexed: grey of each index
}

// params reads the image dictionary. Errors are content errors.
func params(xt *model.XRefTable, sd *types.StreamDict) (imageParams, error) {
	var p imageParams
	d := sd.Dict
	p.w, p.h = intEntry(xt, d, "Width", 0), intEntry(xt, d, "Height", 0)
	if p.w <= 0 || p.h <= 0 {
		return p, fmt.Errorf("image size %dx%d", p.w, p.h)
	}
	if b, ok := deref(xt, d, "ImageMask").(types.Boolean); ok && b.Value() {
		p.mask = true
	}
	for i, f := range sd.FilterPipeline {
		parms := intParms(xt, f.DecodeParms)
		switch f.Name {
		case filter.DCT, filter.CCITTFax, filter.JBIG2, filter.JPX, "DCT", "CCF":
			if i != len(sd.FilterPipeline)-1 {
				return p, fmt.Errorf("image filter %s is not the last of %d", f.Name, len(sd.FilterPipeline))
			}
			p.final, p.fparms = canonicalFilter(f.Name), parms
		default:
			p.filters = append(p.filters, filterSpec{name: canonicalFilter(f.Name), parms: parms})
		}
	}
	p.bpc = intEntry(xt, d, "BitsPerComponent", 8)
	if p.mask || p.final == filter.CCITTFax {
		p.bpc = 1
	}
	switch p.bpc {
	case 1, 2, 4, 8, 16:
	default:
		return p, fmt.Errorf("BitsPerComponent %d", p.bpc)
	}
	if p.mask || p.final == filter.CCITTFax && deref(xt, d, "ColorSpace") == nil {
		p.cs = colorSpec{n: 1, kind: "gray"}
	} else if p.final != filter.DCT && p.final != filter.JPX {
		cs, err := colorSpace(xt, deref(xt, d, "ColorSpace"), 0)
		if err != nil {
			return p, err
		}
		p.cs = cs
	}
	if a, ok := deref(xt, d, "Decode").(types.Array); ok {
		for _, v := range a {
			f, err := xt.DereferenceNumber(v)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return p, errors.New("bad /Decode array")
			}
			p.decode = append(p.decode, f)
		}
	}
	return p, nil
}

func canonicalFilter(name string) string {
	switch name {
	case "AHx":
		return filter.ASCIIHex
	case "A85":
		return filter.ASCII85
	case "LZW":
		return filter.LZW
	case "Fl":
		return filter.Flate
	case "RL":
		return filter.RunLength
	case "CCF":
		return filter.CCITTFax
	case "DCT":
		return filter.DCT
	}
	return name
}

func deref(xt *model.XRefTable, d types.Dict, key string) types.Object {
	v, ok := d.Find(key)
	if !ok || v == nil {
		return nil
	}
	o, err := xt.Dereference(v)
	if err != nil {
		return nil
	}
	return o
}

func intEntry(xt *model.XRefTable, d types.Dict, key string, def int) int {
	v, ok := d.Find(key)
	if !ok || v == nil {
		return def
	}
	f, err := xt.DereferenceNumber(v)
	if err != nil || math.IsNaN(f) || f < -1<<30 || f > 1<<30 {
		return def
	}
	return int(f)
}

// intParms turns a /DecodeParms dictionary into the map pdfcpu's filters
// take: integers as they are, booleans as 0 or 1.
func intParms(xt *model.XRefTable, d types.Dict) map[string]int {
	m := map[string]int{}
	for k, v := range d {
		o, err := xt.Dereference(v)
		if err != nil {
			continue
		}
		switch o := o.(type) {
		case types.Integer:
			m[k] = o.Value()
		case types.Float:
			if f := o.Value(); f > -1<<30 && f < 1<<30 {
				m[k] = int(f)
			}
		case types.Boolean:
			if o.Value() {
				m[k] = 1
			} else {
				m[k] = 0
			}
		}
	}
	return m
}

// colorSpace resolves a colour space object to what grey conversion needs.
func colorSpace(xt *model.XRefTable, o types.Object, depth int) (colorSpec, error) {
	if depth > 4 {
		return colorSpec{}, errors.New("colour space nested too deep")
	}
	switch o := o.(type) {
	case nil:
		return colorSpec{}, errors.New("no colour space")
	case types.Name:
		switch o {
		case "DeviceGray", "G", "CalGray":
			return colorSpec{n: 1, kind: "gray"}, nil
		case "DeviceRGB", "RGB", "CalRGB":
			return colorSpec{n: 3, kind: "rgb"}, nil
		case "DeviceCMYK", "CMYK":
			return colorSpec{n: 4, kind: "cmyk"}, nil
		}
		return colorSpec{}, fmt.Errorf("colour space %s", o)
	case types.Array:
		if len(o) == 0 {
			return colorSpec{}, errors.New("empty colour space array")
		}
		name, _ := o[0].(types.Name)
		switch name {
		case "CalGray", "CalRGB", "DeviceGray", "DeviceRGB", "DeviceCMYK":
			return colorSpace(xt, name, depth+1)
		case "Lab":
			return colorSpec{n: 3, kind: "lab"}, nil
		case "ICCBased":
			if len(o) < 2 {
				return colorSpec{}, errors.New("ICCBased without a profile")
			}
			sd, _, err := xt.DereferenceStreamDict(o[1])
			if err != nil || sd == nil {
				return colorSpec{}, errors.New("ICCBased profile is not a stream")
			}
			switch intEntry(xt, sd.Dict, "N", 0) {
			case 1:
				return colorSpec{n: 1, kind: "gray"}, nil
			case 3:
				return colorSpec{n: 3, kind: "rgb"}, nil
			case 4:
				return colorSpec{n: 4, kind: "cmyk"}, nil
			}
			return colorSpec{}, errors.New("ICCBased profile with an unusual /N")
		case "Separation":
			return colorSpec{n: 1, kind: "separation"}, nil
		case "DeviceN":
			if len(o) < 2 {
				return colorSpec{}, errors.New("DeviceN without names")
			}
			names, err := xt.DereferenceArray(o[1])
			if err != nil || len(names) == 0 || len(names) > 32 {
				return colorSpec{}, errors.New("DeviceN names")
			}
			return colorSpec{n: len(names), kind: "devicen"}, nil
		case "Indexed", "I":
			return indexed(xt, o, depth)
		}
		return colorSpec{}, fmt.Errorf("colour space %v", name)
	case types.IndirectRef:
		d, err := xt.Dereference(o)
		if err != nil {
			return colorSpec{}, err
		}
		return colorSpace(xt, d, depth+1)
	}
	return colorSpec{}, fmt.Errorf("colour space of type %T", o)
}

// indexed resolves [/Indexed base hival lookup] to the grey of each index.
func indexed(xt *model.XRefTable, a types.Array, depth int) (colorSpec, error) {
	if len(a) != 4 {
		return colorSpec{}, errors.New("indexed colour space needs 4 entries")
	}
	baseObj, err := xt.Dereference(a[1])
	if err != nil {
		return colorSpec{}, err
	}
	base, err := colorSpace(xt, baseObj, depth+1)
	if err != nil {
		return colorSpec{}, err
	}
	if base.kind == "indexed" {
		return colorSpec{}, errors.New("indexed colour space over an indexed one")
	}
	hf, err := xt.DereferenceNumber(a[2])
	if err != nil || hf < 0 || hf > 255 {
		return colorSpec{}, errors.New("indexed colour space: bad hival")
	}
	hival := int(hf)
	var lookup []byte
	lo, err := xt.Dereference(a[3])
	if err != nil {
		return colorSpec{}, err
	}
	switch lo := lo.(type) {
	case types.StringLiteral:
		b, err := types.Unescape(lo.Value())
		if err != nil {
			return colorSpec{}, err
		}
		lookup = b
	case types.HexLiteral:
		b, err := lo.Bytes()
		if err != nil {
			return colorSpec{}, err
		}
		lookup = b
	case types.StreamDict:
		if err := lo.Decode(); err != nil {
			return colorSpec{}, fmt.Errorf("indexed lookup stream: %w", err)
		}
		lookup = lo.Content
	default:
		return colorSpec{}, errors.New("indexed colour space: bad lookup")
	}
	pal := make([]byte, 256)
	for i := range pal {
		pal[i] = 255
	}
	comp := make([]byte, base.n)
	for i := 0; i <= hival; i++ {
		if (i+1)*base.n > len(lookup) {
			break
		}
		copy(comp, lookup[i*base.n:(i+1)*base.n])
		pal[i] = base.toGray(comp)
	}
	return colorSpec{n: 1, kind: "indexed", palette: pal}, nil
}

// toGray converts one sample of 8-bit components (after /Decode) to grey.
func (c colorSpec) toGray(v []byte) byte {
	switch c.kind {
	case "gray":
		return v[0]
	case "rgb":
		return byte((299*int(v[0]) + 587*int(v[1]) + 114*int(v[2]) + 500) / 1000)
	case "cmyk":
		k := (30*int(v[0])+59*int(v[1])+11*int(v[2]))/100 + int(v[3])
		return byte(255 - min(k, 255))
	case "lab":
		return v[0]
	case "indexed":
		return c.palette[v[0]]
	case "separation":
		return 255 - v[0]
	case "devicen":
		s := 0
		for _, x := range v {
			s += int(x)
		}
		return byte(255 - min(s, 255))
	}
	return 255
}

// supported reports, before any decoding, an encoding this package does
// not decode.
func (p imageParams) supported() error {
	switch {
	case p.final == filter.JBIG2 || p.final == filter.JPX:
		return fmt.Errorf("%w: %s", errUnsupported, p.final)
	case p.final == filter.CCITTFax && p.fparms["K"] > 0:
		return fmt.Errorf("%w: CCITT Group 3 2-D (K=%d)", errUnsupported, p.fparms["K"])
	}
	return nil
}
