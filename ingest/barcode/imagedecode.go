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
