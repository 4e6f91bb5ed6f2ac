package barcode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/image/ccitt"
)

// errUnsupported marks image encodings this package does not decode (JBIG2,
// JPEG 2000, CCITT Group 3 2-D): the page is reported with nothing found.
var errUnsupported = errors.New("unsupported image encoding")

// gray is an 8-bit grey image, 0 black, 255 white, rows packed (stride w).
type gray struct {
	pix  []byte
	w, h int
}

func newGray(w, h int) *gray { return &gray{pix: make([]byte, w*h), w: w, h: h} }

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

// decodeImage decodes the samples of an image XObject (raw: its stream as
// stored) to grey as it would appear on the page, before page rotation.
// maxPixels bounds the image; streams are decoded no further than the image
// needs. It touches no pdfcpu table, so it may run in parallel.
func decodeImage(p imageParams, raw []byte, maxPixels int64) (*gray, error) {
	if int64(p.w)*int64(p.h) > maxPixels {
		return nil, fmt.Errorf("image %dx%d over the cap of %d pixels", p.w, p.h, maxPixels)
	}
	if err := p.supported(); err != nil {
		return nil, err
	}
	data := raw
	var err error
	rowBytes := (p.w*max(p.cs.n, 1)*p.bpc + 7) / 8
	for i, f := range p.filters {
		limit := int64(-1)
		if i == len(p.filters)-1 && p.final == "" {
			limit = int64(rowBytes) * int64(p.h) // decode no more than the image needs
			f = predictorDefaults(f, p)
		}
		if data, err = byteFilter(f, data, limit, maxPixels); err != nil {
			return nil, err
		}
	}
	switch p.final {
	case filter.DCT:
		return decodeDCT(data, p, maxPixels)
	case filter.CCITTFax:
		return decodeCCITT(data, p)
	}
	return unpack(data, p)
}

// predictorDefaults fills in the predictor parameters that a filter giving
// an image's samples leaves out: the PDF defaults (one column, one colour,
// 8 bits) cannot be meant for an image, whose own entries are.
func predictorDefaults(f filterSpec, p imageParams) filterSpec {
	if f.parms["Predictor"] <= 1 {
		return f
	}
	parms := make(map[string]int, len(f.parms)+3)
	for k, v := range f.parms {
		parms[k] = v
	}
	for k, v := range map[string]int{"Columns": p.w, "Colors": p.cs.n, "BitsPerComponent": p.bpc} {
		if _, ok := parms[k]; !ok {
			parms[k] = v
		}
	}
	return filterSpec{name: f.name, parms: parms}
}

// byteFilter applies one of pdfcpu's byte filters. limit >= 0 stops after
// that many bytes; otherwise the output is capped at a few times the pixel
// cap. Output cut short by damage is kept.
func byteFilter(f filterSpec, data []byte, limit, maxPixels int64) ([]byte, error) {
	flt, err := filter.NewFilter(f.name, f.parms, 4*maxPixels+1<<20)
	if err != nil {
		if errors.Is(err, filter.ErrUnsupportedFilter) {
			return nil, fmt.Errorf("%w: %s", errUnsupported, f.name)
		}
		return nil, fmt.Errorf("filter %s: %w", f.name, err)
	}
	r, err := flt.DecodeLength(bytes.NewReader(data), limit)
	if r == nil || (err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)) {
		if err == nil {
			err = errors.New("no output")
		}
		return nil, fmt.Errorf("filter %s: %w", f.name, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", f.name, err)
	}
	return out, nil
}

// fixJPEG removes what image/jpeg refuses but libjpeg accepts in a JPEG
// stream written by tiff2pdf from a JPEG-compressed TIFF: a second SOI
// marker after the tables, and, between strips, an EOI and an SOI before
// each restart marker. data is not changed; a copy is made when needed.
func fixJPEG(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return data
	}
	var out []byte // nil until something is dropped
	last := 0      // data[last:i] is still to be copied to out
	drop := func(i, n int) {
		out = append(out, data[last:i]...)
		last = i + n
	}
	i := 2
header:
	for i+4 <= len(data) {
		if data[i] != 0xff {
			break
		}
		switch m := data[i+1]; {
		case m == 0xff: // fill byte
			i++
		case m == 0xd8: // a second SOI
			drop(i, 2)
			i += 2
		case m == 0x01 || m >= 0xd0 && m <= 0xd7:
			i += 2
		case m == 0xda || m == 0xd9: // start of scan, or end: the header is over
			break header
		default:
			i += 2 + (int(data[i+2])<<8 | int(data[i+3]))
		}
	}
	// In entropy-coded data a 0xff byte is always followed by 0x00 or a
	// marker, so this sequence is only ever tiff2pdf's strip joint.
	joint := []byte{0xff, 0xd9, 0xff, 0xd8, 0xff}
	for i < len(data) {
		j := bytes.Index(data[i:], joint)
		if j < 0 {
			break
		}
		i += j
		if i+5 < len(data) && data[i+5] >= 0xd0 && data[i+5] <= 0xd7 {
			drop(i, 4)
		}
		i += 4
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

// decodeDCT decodes a JPEG stream with image/jpeg and takes its luma.
func decodeDCT(data []byte, p imageParams, maxPixels int64) (*gray, error) {
	data = fixJPEG(data)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("jpeg: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, fmt.Errorf("jpeg %dx%d over the cap of %d pixels", cfg.Width, cfg.Height, maxPixels)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("jpeg: %w", err)
	}
	g := toGray(img)
	if len(p.decode) >= 2 && p.decode[0] > p.decode[1] { // [1 0 ...]: inverted samples
		invert(g.pix)
	}
	return g, nil
}

// toGray takes the luma of a decoded JPEG: the Y plane as it is when there
// is one.
func toGray(img image.Image) *gray {
	b := img.Bounds()
	g := newGray(b.Dx(), b.Dy())
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < g.h; y++ {
			copy(g.pix[y*g.w:(y+1)*g.w], m.Pix[y*m.Stride:y*m.Stride+g.w])
		}
	case *image.YCbCr:
		for y := 0; y < g.h; y++ {
			copy(g.pix[y*g.w:(y+1)*g.w], m.Y[y*m.YStride:y*m.YStride+g.w])
		}
	case *image.CMYK:
		cs := colorSpec{n: 4, kind: "cmyk"}
		for y := 0; y < g.h; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < g.w; x++ {
				g.pix[y*g.w+x] = cs.toGray(row[4*x : 4*x+4])
			}
		}
	default:
		for y := 0; y < g.h; y++ {
			for x := 0; x < g.w; x++ {
				r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				g.pix[y*g.w+x] = byte((299*r + 587*gg + 114*bb) / 1000 >> 8)
			}
		}
	}
	return g
}

// decodeCCITT decodes CCITT fax data (Group 4, or Group 3 1-D) with
// golang.org/x/image/ccitt. Rows decoded before damage are kept; the rest
// stay white.
func decodeCCITT(data []byte, p imageParams) (*gray, error) {
	k := p.fparms["K"]
	if k > 0 {
		return nil, fmt.Errorf("%w: CCITT Group 3 2-D (K=%d)", errUnsupported, k)
	}
	sf := ccitt.Group3
	if k < 0 {
		sf = ccitt.Group4
	}
	cols := p.w
	if c, ok := p.fparms["Columns"]; ok && c > 0 && c <= 1<<20 {
		cols = c
	}
	rows := p.h
	if r, ok := p.fparms["Rows"]; ok && r > 0 && r < rows {
		rows = r
	}
	opts := &ccitt.Options{Align: p.fparms["EncodedByteAlign"] == 1}
	rd := ccitt.NewReader(bytes.NewReader(data), ccitt.MSB, sf, cols, rows, opts)
	g := newGray(p.w, p.h)
	for i := range g.pix {
		g.pix[i] = 255
	}
	rowBytes := (cols + 7) / 8
	row := make([]byte, rowBytes)
	var derr error
	y := 0
	for ; y < rows; y++ {
		if _, err := io.ReadFull(rd, row); err != nil {
			derr = err
			break
		}
		dst := g.pix[y*g.w : (y+1)*g.w]
		for x := 0; x < min(cols, g.w); x++ {
			if row[x>>3]&(0x80>>(x&7)) == 0 {
				dst[x] = 0
			}
		}
	}
	if y == 0 && derr != nil {
		return nil, fmt.Errorf("ccitt: %w", derr)
	}
	// The decoder gives black as 0. BlackIs1 means the image's samples are
	// the other way round, and /Decode [1 0] turns them round again.
	inv := p.fparms["BlackIs1"] == 1
	if len(p.decode) >= 2 && p.decode[0] > p.decode[1] {
		inv = !inv
	}
	if inv {
		invert(g.pix[:y*g.w])
	}
	return g, nil
}

// unpack converts raw samples (after the byte filters) to grey. Short data
// leaves the missing rows white.
func unpack(data []byte, p imageParams) (*gray, error) {
	n := p.cs.n
	if n <= 0 {
		return nil, errors.New("no colour space")
	}
	rowBytes := (p.w*n*p.bpc + 7) / 8
	rows := min(p.h, len(data)/rowBytes)
	if rows == 0 {
		return nil, fmt.Errorf("image data: %d bytes for rows of %d", len(data), rowBytes)
	}
	// Per component: a table from the sample value to an 8-bit value,
	// applying /Decode.
	maxv := 1<<min(p.bpc, 8) - 1 // 16-bit samples: the high byte
	luts := make([][]byte, n)
	for c := range luts {
		lo, hi := 0.0, 1.0
		if p.cs.kind == "indexed" {
			lo, hi = 0, float64(maxv)
		}
		if len(p.decode) >= 2*(c+1) {
			lo, hi = p.decode[2*c], p.decode[2*c+1]
		}
		lut := make([]byte, maxv+1)
		for v := range lut {
			f := lo + float64(v)*(hi-lo)/float64(maxv)
			if p.cs.kind == "indexed" {
				lut[v] = byte(min(max(math.Round(f), 0), 255))
			} else {
				lut[v] = byte(min(max(math.Round(f*255), 0), 255))
			}
		}
		luts[c] = lut
	}
	g := newGray(p.w, p.h)
	for i := rows * p.w; i < len(g.pix); i++ {
		g.pix[i] = 255
	}
	comp := make([]byte, n)
	for y := 0; y < rows; y++ {
		src := data[y*rowBytes : (y+1)*rowBytes]
		dst := g.pix[y*p.w : (y+1)*p.w]
		switch {
		case n == 1 && p.cs.kind == "gray" && p.bpc == 8:
			for x, v := range src[:p.w] {
				dst[x] = luts[0][v]
			}
			continue
		case n == 1 && p.cs.kind == "gray" && p.bpc == 1:
			black, white := luts[0][0], luts[0][1]
			for x := range dst {
				if src[x>>3]&(0x80>>(x&7)) == 0 {
					dst[x] = black
				} else {
					dst[x] = white
				}
			}
			continue
		case p.cs.kind == "rgb" && p.bpc == 8:
			r, gr, b := luts[0], luts[1], luts[2]
			for x := range dst {
				s := src[3*x : 3*x+3]
				dst[x] = byte((299*int(r[s[0]]) + 587*int(gr[s[1]]) + 114*int(b[s[2]]) + 500) / 1000)
			}
			continue
		}
		bit := 0
		for x := 0; x < p.w; x++ {
			for c := 0; c < n; c++ {
				comp[c] = luts[c][sample(src, bit, p.bpc)]
				bit += p.bpc
			}
			dst[x] = p.cs.toGray(comp)
		}
	}
	return g, nil
}

// sample reads the bpc-bit sample at bit offset off (16-bit samples: the
// high byte is enough).
func sample(row []byte, off, bpc int) int {
	switch bpc {
	case 8:
		return int(row[off>>3])
	case 16:
		return int(row[off>>3])
	}
	b := row[off>>3]
	shift := 8 - bpc - off&7
	return int(b>>shift) & (1<<bpc - 1)
}

func invert(p []byte) {
	for i, v := range p {
		p[i] = 255 - v
	}
}
