package barcode

import (
	"context"
	"math"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Working resolutions. QR modules are large: 150 dpi is plenty and keeps
// the binarizer and finder-pattern search cheap. Code 128 bars are narrow
// (0.25 mm is 2 pixels at 200 dpi): bars are read at no less than 200 dpi.
const (
	qrDPI  = 150
	barDPI = 200
	// scanline spacing for Code 128, in inches: about 1 mm, so that a
	// barcode 5 mm tall is crossed by several lines.
	lineStep = 1.0 / 24
)

// finder collects the codes found on one page.
type finder struct {
	valid func(string) []string // the dossier codes carried by a decoded value
	found []Found
	seen  map[string]bool
}

func (f *finder) add(text, symbology string) {
	for _, c := range f.valid(text) {
		if !f.seen[c] {
			f.seen[c] = true
			f.found = append(f.found, Found{Code: c, Symbology: symbology})
		}
	}
}

// readCodes looks for QR codes and Code 128 barcodes in a page image of the
// given resolution, cheap attempts first, in steps:
//
//  1. QR codes anywhere on the page at about 150 dpi (the detector finds
//     them in any orientation and with some skew), and Code 128 on
//     horizontal scanlines across the page at about 200 dpi, each read both
//     ways (upright and upside down).
//  2. Code 128 on vertical scanlines (pages turned 90° or 270°) and on
//     slanted ones (skew of about 2° and 4° either way).
//  3. Code 128 on scanlines over the right and the bottom part only (the
//     reader gives a line up at a false start in text before the bars); QR
//     codes with gozxing's TRY_HARDER hint, at up to twice the resolution.
//
// The first step that finds a code ends the search, with all the codes that
// step found, so that two different codes on a page show. step is the step
// that found them (0: none).
func readCodes(ctx context.Context, g *gray, dpi float64, valid func(string) []string) (found []Found, step int, err error) {
	f := &finder{valid: valid, seen: map[string]bool{}}
	if dpi <= 0 || math.IsNaN(dpi) || math.IsInf(dpi, 0) {
		dpi = barDPI
	}
	kq := max(1, int(dpi/qrDPI))
	kb := max(1, int(dpi/barDPI))
	qimg := downscale(g, kq)
	bimg := qimg
	if kb != kq {
		bimg = downscale(g, kb)
	}
	// timg is bimg turned a quarter (made in step 2): its rows are bimg's
	// columns. lines is the scanline spacing in pixels.
	var timg *gray
	lines := max(2, int(dpi/float64(kb)*lineStep))
	qbmp := qrBitmap(qimg)
	steps := [...]func(){
		func() {
			readQR(qbmp, false, f)
			readLines(bimg, 0, lines, 0, f)
		},
		func() {
			timg = transpose(bimg)
			readLines(timg, 0, lines, 0, f)
			for _, slope := range [...]float64{0.035, -0.035, 0.07, -0.07} { // tan 2°, tan 4°
				readLines(bimg, slope, lines*3/2, 0, f)
				readLines(timg, slope, lines*3/2, 0, f)
			}
		},
		func() {
			readLines(bimg, 0, lines, bimg.w*3/8, f)
			readLines(timg, 0, lines, timg.w*3/8, f)
			if kq > 1 {
				qbmp = qrBitmap(downscale(g, max(1, kq/2)))
			}
			readQR(qbmp, true, f)
		},
	}
	for i, run := range steps {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		if run(); len(f.found) > 0 {
			return f.found, i + 1, nil
		}
	}
	return nil, 0, nil
}

// qrBitmap prepares img for the QR readers: gozxing's hybrid (local)
// binarizer, whose result the bitmap keeps for later reads.
func qrBitmap(img *gray) *gozxing.BinaryBitmap {
	src, err := gozxing.NewPlanarYUVLuminanceSource(img.pix, img.w, img.h, 0, 0, img.w, img.h, false)
	if err != nil {
		return nil
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return nil
	}
	return bmp
}

// readQR decodes every QR code in bmp.
func readQR(bmp *gozxing.BinaryBitmap, harder bool, f *finder) {
	if bmp == nil {
		return
	}
	var hints map[gozxing.DecodeHintType]any
	if harder {
		hints = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	}
	results, _ := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, hints)
	for _, r := range results {
		f.add(r.GetText(), "qr")
	}
	if len(results) == 0 && harder {
		// The single-code reader chooses among finder patterns
		// differently from the multi-code one.
		if r, err := qrcode.NewQRCodeReader().Decode(bmp, hints); err == nil {
			f.add(r.GetText(), "qr")
		}
	}
}

// readLines reads Code 128 along rows of img every step pixels, slanted by
// slope, from x = from to the right edge. Each line is read forwards and
// backwards (a barcode upside down).
func readLines(img *gray, slope float64, step, from int, f *finder) {
	src := newLineSource(img, slope, from)
	if src.Width < 16 {
		return
	}
	bin := gozxing.NewGlobalHistgramBinarizer(src)
	dec := oned.NewCode128Reader().(oned.RowDecoder)
	row := gozxing.NewBitArray(src.Width)
	for y := step / 2; y < src.Height; y += step {
		var err error
		if row, err = bin.GetBlackRow(y, row); err != nil {
			continue
		}
		for attempt := 0; attempt < 2; attempt++ {
			if attempt == 1 {
				row.Reverse()
			}
			if r, err := dec.DecodeRow(y, row, nil); err == nil {
				f.add(r.GetText(), "code128")
				break
			}
		}
	}
}

// lineSource is a gozxing luminance source whose rows are the rows of img
// from x = from on, slanted by a slope: row y runs through the pixels
// (x, y + d) where d grows by one every 1/slope pixels. Only GetRow is used
// by the 1-D readers.
type lineSource struct {
	gozxing.LuminanceSourceBase
	img  *gray
	from int
	segs []segment // the runs of a slanted row; nil: not slanted
}

// segment is a run of a slanted row at a constant offset d from the row.
type segment struct{ start, end, d int }

func newLineSource(img *gray, slope float64, from int) *lineSource {
	s := &lineSource{img: img, from: from}
	s.Width, s.Height = img.w-from, img.h
	if slope == 0 || s.Width <= 0 {
		return s
	}
	start, d := 0, 0
	for i := 0; i <= s.Width; i++ {
		di := int(math.Round(float64(i) * slope))
		if i == s.Width || di != d {
			s.segs = append(s.segs, segment{start, i, d})
			start, d = i, di
		}
	}
	return s
}

func (s *lineSource) GetRow(y int, row []byte) ([]byte, error) {
	n, g := s.Width, s.img
	if len(row) < n {
		row = make([]byte, n)
	}
	row = row[:n]
	if s.segs == nil {
		copy(row, g.pix[y*g.w+s.from:(y+1)*g.w])
		return row, nil
	}
	for _, sg := range s.segs {
		yy := min(max(y+sg.d, 0), g.h-1)
		off := yy*g.w + s.from
		copy(row[sg.start:sg.end], g.pix[off+sg.start:off+sg.end])
	}
	return row, nil
}

func (s *lineSource) GetMatrix() []byte { return nil }

func (s *lineSource) Invert() gozxing.LuminanceSource { return gozxing.LuminanceSourceInvert(s) }

func (s *lineSource) String() string { return "lineSource" }

// transpose returns img mirrored about its diagonal: its rows are img's
// columns (a quarter turn and a flip, which a barcode read both ways does
// not mind).
func transpose(img *gray) *gray {
	out := newGray(img.h, img.w)
	const b = 64 // blocks, for the cache
	for y0 := 0; y0 < img.h; y0 += b {
		for x0 := 0; x0 < img.w; x0 += b {
			for y := y0; y < min(y0+b, img.h); y++ {
				src := img.pix[y*img.w:]
				for x := x0; x < min(x0+b, img.w); x++ {
					out.pix[x*out.w+y] = src[x]
				}
			}
		}
	}
	return out
}

// downscale returns img reduced by an integer factor k, each pixel the mean
// of a k×k block (img itself when k is 1).
func downscale(img *gray, k int) *gray {
	if k <= 1 {
		return img
	}
	w, h := img.w/k, img.h/k
	if w == 0 || h == 0 {
		return img
	}
	out := newGray(w, h)
	sum := make([]int, w)
	area := k * k
	for oy := 0; oy < h; oy++ {
		clear(sum)
		for dy := 0; dy < k; dy++ {
			src := img.pix[(oy*k+dy)*img.w:]
			for ox := 0; ox < w; ox++ {
				s := 0
				for _, v := range src[ox*k : ox*k+k] {
					s += int(v)
				}
				sum[ox] += s
			}
		}
		dst := out.pix[oy*w : (oy+1)*w]
		for ox, s := range sum {
			dst[ox] = byte(s / area)
		}
	}
	return out
}
