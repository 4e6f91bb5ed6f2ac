package barcode

import (
	"bytes"
	"compress/zlib"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// Synthetic scans, made here without outside tools: the encodings that
// mkscan.sh does not write (Flate with and without predictors, 1 to 16 bits,
// grey, RGB, CMYK, indexed, image masks, /Decode inversion).

// receiptImage draws an A4 page at 200 dpi with a QR code of qr at the top
// right and a Code 128 of bar at the top left ("" leaves one out), and some
// dark lines standing for text.
func receiptImage(t testing.TB, qr, bar string) *gray {
	t.Helper()
	g := newGray(1654, 2339)
	for i := range g.pix {
		g.pix[i] = 250
	}
	fill := func(x0, y0, x1, y1 int, v byte) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				g.pix[y*g.w+x] = v
			}
		}
	}
	for y := 900; y < 2100; y += 60 { // "text"
		for x := 150; x < 1400; x += 37 {
			fill(x, y, x+25, y+18, 30)
		}
	}
	if qr != "" {
		m, err := qrcode.NewQRCodeWriter().Encode(qr, gozxing.BarcodeFormat_QR_CODE, 0, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		const s = 7
		x0 := g.w - 150 - m.GetWidth()*s
		for y := 0; y < m.GetHeight(); y++ {
			for x := 0; x < m.GetWidth(); x++ {
				if m.Get(x, y) {
					fill(x0+x*s, 500+y*s, x0+x*s+s, 500+y*s+s, 20)
				}
			}
		}
	}
	if bar != "" {
		m, err := oned.NewCode128Writer().Encode(bar, gozxing.BarcodeFormat_CODE_128, 0, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for x := 0; x < m.GetWidth(); x++ {
			if m.Get(x, 0) {
				fill(150+x*3, 500, 150+x*3+3, 560, 20)
			}
		}
	}
	return g
}

// synthImage is an image XObject: its dictionary entries and stored stream.
type synthImage struct {
	dict types.Dict
	raw  []byte
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// pack packs samples of bpc bits, rows padded to bytes.
func pack(g *gray, n, bpc int, sample func(x, y, c int) int) []byte {
	rowBytes := (g.w*n*bpc + 7) / 8
	out := make([]byte, rowBytes*g.h)
	for y := 0; y < g.h; y++ {
		row := out[y*rowBytes:]
		bit := 0
		for x := 0; x < g.w; x++ {
			for c := 0; c < n; c++ {
				v := sample(x, y, c)
				switch bpc {
				case 16:
					row[bit/8], row[bit/8+1] = byte(v>>8), byte(v)
				case 8:
					row[bit/8] = byte(v)
				default:
					row[bit/8] |= byte(v << (8 - bpc - bit%8))
				}
				bit += bpc
			}
		}
	}
	return out
}

// pngUp applies the PNG "Up" predictor to every row (Predictor 12..15).
func pngUp(data []byte, rowBytes int) []byte {
	var out []byte
	prev := make([]byte, rowBytes)
	for r := 0; r+rowBytes <= len(data); r += rowBytes {
		row := data[r : r+rowBytes]
		out = append(out, 2)
		for i, v := range row {
			out = append(out, v-prev[i])
		}
		prev = row
	}
	return out
}

func imageDict(w, h, bpc int, cs types.Object, filter string) types.Dict {
	d := types.Dict{
		"Type": types.Name("XObject"), "Subtype": types.Name("Image"),
		"Width": types.Integer(w), "Height": types.Integer(h),
		"BitsPerComponent": types.Integer(bpc), "Filter": types.Name(filter),
	}
	if cs != nil {
		d["ColorSpace"] = cs
	}
	return d
}

// encodings returns the page g stored in each way to test.
func encodings(t testing.TB, g *gray) map[string]synthImage {
	t.Helper()
	bw := func(x, y, _ int) int { return int(g.pix[y*g.w+x]) >> 7 } // 1 white, 0 black
	grey := func(x, y, _ int) int { return int(g.pix[y*g.w+x]) }
	m := map[string]synthImage{}

	d := pack(g, 1, 8, grey)
	m["flate_gray8"] = synthImage{imageDict(g.w, g.h, 8, types.Name("DeviceGray"), "FlateDecode"), zlibBytes(d)}
	pd := imageDict(g.w, g.h, 8, types.Name("DeviceGray"), "FlateDecode")
	pd["DecodeParms"] = types.Dict{"Predictor": types.Integer(15), "Columns": types.Integer(g.w)}
	m["flate_gray8_png_predictor"] = synthImage{pd, zlibBytes(pngUp(d, g.w))}

	m["flate_gray16"] = synthImage{imageDict(g.w, g.h, 16, types.Name("DeviceGray"), "FlateDecode"),
		zlibBytes(pack(g, 1, 16, func(x, y, c int) int { return grey(x, y, c) * 257 }))}

	m["flate_bw1"] = synthImage{imageDict(g.w, g.h, 1, types.Name("DeviceGray"), "FlateDecode"), zlibBytes(pack(g, 1, 1, bw))}
	inv := imageDict(g.w, g.h, 1, types.Name("DeviceGray"), "FlateDecode")
	inv["Decode"] = types.Array{types.Integer(1), types.Integer(0)}
	m["flate_bw1_decode_inverted"] = synthImage{inv, zlibBytes(pack(g, 1, 1, func(x, y, c int) int { return 1 - bw(x, y, c) }))}
	mask := imageDict(g.w, g.h, 1, nil, "FlateDecode")
	mask["ImageMask"] = types.Boolean(true)
	m["flate_image_mask"] = synthImage{mask, zlibBytes(pack(g, 1, 1, bw))}

	m["flate_rgb8"] = synthImage{imageDict(g.w, g.h, 8, types.Name("DeviceRGB"), "FlateDecode"),
		zlibBytes(pack(g, 3, 8, func(x, y, c int) int { return max(0, grey(x, y, c)-8*c) }))}
	m["flate_cmyk8"] = synthImage{imageDict(g.w, g.h, 8, types.Name("DeviceCMYK"), "FlateDecode"),
		zlibBytes(pack(g, 4, 8, func(x, y, c int) int {
			if c == 3 {
				return 255 - grey(x, y, c)
			}
			return 0
		}))}
	idx := types.Array{types.Name("Indexed"), types.Name("DeviceRGB"), types.Integer(1),
		types.NewHexLiteral([]byte{0x10, 0x10, 0x30, 0xff, 0xfe, 0xf0})}
	m["flate_indexed1"] = synthImage{imageDict(g.w, g.h, 1, idx, "FlateDecode"), zlibBytes(pack(g, 1, 1, bw))}

	img := &image.Gray{Pix: g.pix, Stride: g.w, Rect: image.Rect(0, 0, g.w, g.h)}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, img, &jpeg.Options{Quality: 60}); err != nil {
		t.Fatal(err)
	}
	m["dct_gray"] = synthImage{imageDict(g.w, g.h, 8, types.Name("DeviceGray"), "DCTDecode"), slices.Clone(j.Bytes())}
	neg := &image.Gray{Pix: slices.Clone(g.pix), Stride: g.w, Rect: img.Rect}
	invert(neg.Pix)
	j.Reset()
	if err := jpeg.Encode(&j, neg, &jpeg.Options{Quality: 60}); err != nil {
		t.Fatal(err)
	}
	nd := imageDict(g.w, g.h, 8, types.Name("DeviceGray"), "DCTDecode")
	nd["Decode"] = types.Array{types.Integer(1), types.Integer(0)}
	m["dct_gray_decode_inverted"] = synthImage{nd, j.Bytes()}
	return m
}

// writeImagePDF writes a PDF with one A4 page per image, each drawn over
// the whole page.
func writeImagePDF(t testing.TB, path string, images []synthImage) {
	t.Helper()
	doc, err := pdfcpu.CreateContextWithXRefTable(pdfConfig(1<<30), types.PaperSize["A4"])
	if err != nil {
		t.Fatal(err)
	}
	xt := doc.XRefTable
	pagesRef, err := doc.Pages()
	if err != nil {
		t.Fatal(err)
	}
	pagesDict, err := doc.DereferenceDict(*pagesRef)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		n := int64(len(im.raw))
		im.dict["Length"] = types.Integer(n)
		sd := types.StreamDict{Dict: im.dict, Raw: im.raw, StreamLength: &n}
		imgRef, err := xt.IndRefForNewObject(sd)
		if err != nil {
			t.Fatal(err)
		}
		content := []byte("q 595.28 0 0 841.89 0 0 cm /Im0 Do Q")
		csd, err := xt.NewStreamDictForBuf(content)
		if err != nil {
			t.Fatal(err)
		}
		if err := csd.Encode(); err != nil {
			t.Fatal(err)
		}
		contentRef, err := xt.IndRefForNewObject(*csd)
		if err != nil {
			t.Fatal(err)
		}
		page, err := xt.IndRefForNewObject(types.Dict{
			"Type": types.Name("Page"), "Parent": *pagesRef,
			"MediaBox":  types.NewRectangle(0, 0, 595.28, 841.89).Array(),
			"Resources": types.Dict{"XObject": types.Dict{"Im0": *imgRef}},
			"Contents":  *contentRef,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := model.AppendPageTree(page, 1, pagesDict); err != nil {
			t.Fatal(err)
		}
	}
	doc.PageCount = len(images)
	var buf bytes.Buffer
	if err := api.WriteContext(doc, &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEncodings reads a receipt stored in each encoding: the code must be
// found, and a blank page in the same encoding must be blank.
func TestEncodings(t *testing.T) {
	testenv.SkipUnderRace(t, "a sweep of every image encoding, one after the other (TestConcurrent races the reader)")
	const code = "000.00.12.H57-200405-0007"
	receipt := encodings(t, receiptImage(t, code, code))
	blank := encodings(t, receiptImageBlank())
	dir := t.TempDir()
	var r Reader
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range receipt {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".pdf")
			writeImagePDF(t, path, []synthImage{receipt[name], blank[name]})
			pages, err := r.Read(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != 2 {
				t.Fatalf("%d pages", len(pages))
			}
			if p := pages[0]; len(p.Codes) != 1 || p.Codes[0].Code != code || p.Blank {
				t.Errorf("receipt: %+v", p)
			}
			if p := pages[1]; !p.Blank || len(p.Codes) != 0 {
				t.Errorf("blank page: %+v", p)
			}
		})
	}
}

func receiptImageBlank() *gray {
	g := newGray(1654, 2339)
	for i := range g.pix {
		g.pix[i] = 250
	}
	return g
}

// TestTwoCodes: a page carrying two different codes reports both (the
// caller holds it as ambiguous); the same code twice is one code.
func TestTwoCodes(t *testing.T) {
	const a, b = "000.00.12.H57-200405-0001", "000.00.12.H57-200405-0002"
	tests := []struct {
		name    string
		qr, bar string
		want    []string
	}{
		{"qr_and_bar_differ", a, b, []string{a, b}},
		{"same_code_twice", a, a, []string{a}},
		{"not_a_code", "https://example.org/tra-cuu", "", nil},
		{"code_inside_a_url", "https://dichvucong.example/tra-cuu?ma=" + a, "", []string{a}},
		{"lower_case", "000.00.12.h57-200405-0001", "", []string{a}},
		{"other_payload_on_bar", "", "ABC-123", nil},
	}
	dir := t.TempDir()
	var r Reader
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".pdf")
			g := receiptImage(t, tt.qr, tt.bar)
			writeImagePDF(t, path, []synthImage{{imageDict(g.w, g.h, 8, types.Name("DeviceGray"), "FlateDecode"), zlibBytes(g.pix)}})
			pages, err := r.Read(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range pages[0].Codes {
				got = append(got, f.Code)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("codes %v, want %v", got, tt.want)
			}
		})
	}
}
