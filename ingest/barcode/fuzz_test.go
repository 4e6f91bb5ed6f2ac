package barcode

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/filter"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// fuzzParams turns fuzz input into image parameters of a small image: the
// colour space, sample depth, filters and their /DecodeParms, /Decode.
func fuzzParams(data []byte, w, h, cs, bpc, final, pred uint8, k int8, flags uint8) (imageParams, []byte) {
	p := imageParams{w: 1 + int(w%64), h: 1 + int(h%64), bpc: []int{1, 2, 4, 8, 16}[bpc%5]}
	switch cs % 7 {
	case 0:
		p.cs = colorSpec{n: 1, kind: "gray"}
	case 1:
		p.cs = colorSpec{n: 3, kind: "rgb"}
	case 2:
		p.cs = colorSpec{n: 4, kind: "cmyk"}
	case 3:
		pal := make([]byte, 256)
		copy(pal, data)
		p.cs = colorSpec{n: 1, kind: "indexed", palette: pal}
	case 4:
		p.cs = colorSpec{n: 1, kind: "separation"}
	case 5:
		p.cs = colorSpec{n: 3, kind: "lab"}
	case 6:
		p.cs = colorSpec{n: 2, kind: "devicen"}
	}
	if flags&8 != 0 {
		p.mask, p.bpc, p.cs = true, 1, colorSpec{n: 1, kind: "gray"}
	}
	if flags&4 != 0 {
		for range p.cs.n {
			p.decode = append(p.decode, 1, 0)
		}
	}
	parms := map[string]int{}
	if pred%8 != 0 {
		parms["Predictor"] = []int{2, 10, 11, 12, 13, 14, 15}[pred%8-1]
		if flags&16 == 0 {
			parms["Columns"] = p.w
		}
	}
	if flags&32 != 0 { // make the stream valid zlib, to get past it
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data = z.Bytes()
	}
	switch final % 7 {
	case 1:
		p.filters = []filterSpec{{name: filter.Flate, parms: parms}}
	case 2:
		p.final = filter.DCT
	case 3:
		p.final, p.bpc = filter.CCITTFax, 1
		p.fparms = map[string]int{"K": int(k), "Columns": p.w, "Rows": p.h, "BlackIs1": int(flags & 1), "EncodedByteAlign": int(flags >> 1 & 1)}
	case 4:
		p.filters = []filterSpec{{name: filter.LZW, parms: parms}}
	case 5:
		p.filters = []filterSpec{{name: filter.RunLength}}
	case 6:
		p.filters = []filterSpec{{name: filter.ASCIIHex}, {name: filter.Flate, parms: parms}}
	}
	return p, data
}

// FuzzDecodeImage decodes arbitrary streams under arbitrary parameters: no
// panic, and a decoded image has the size asked for.
func FuzzDecodeImage(f *testing.F) {
	if ccitt := firstImageStream(f, "scan_0005.pdf"); ccitt != nil {
		f.Add(ccitt[:min(len(ccitt), 4096)], uint8(63), uint8(63), uint8(0), uint8(0), uint8(3), uint8(0), int8(-1), uint8(0))
	}
	if jpg := firstImageStream(f, "scan_0003.pdf"); jpg != nil {
		f.Add(jpg[:min(len(jpg), 8192)], uint8(63), uint8(63), uint8(0), uint8(3), uint8(2), uint8(0), int8(0), uint8(0))
	}
	f.Add([]byte{0x02, 1, 2, 3, 4, 0x01, 5, 6, 7, 8}, uint8(3), uint8(1), uint8(0), uint8(3), uint8(1), uint8(3), int8(0), uint8(32))
	f.Add([]byte("0123456789abcdef>"), uint8(7), uint8(0), uint8(1), uint8(0), uint8(0), uint8(0), int8(0), uint8(4))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xd8, 0xff, 0xd9}, uint8(1), uint8(1), uint8(0), uint8(3), uint8(2), uint8(0), int8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, w, h, cs, bpc, final, pred uint8, k int8, flags uint8) {
		p, stream := fuzzParams(data, w, h, cs, bpc, final, pred, k, flags)
		type res struct {
			g   *gray
			err error
		}
		done := make(chan res, 1)
		go func() {
			g, err := decodeImage(p, stream, 64*64)
			done <- res{g, err}
		}()
		var rr res
		select {
		case rr = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("hang: %+v", p)
		}
		g, err := rr.g, rr.err
		if err != nil {
			return
		}
		if p.final != filter.DCT && (g.w != p.w || g.h != p.h) {
			t.Fatalf("decoded %dx%d, want %dx%d", g.w, g.h, p.w, p.h)
		}
		if len(g.pix) != g.w*g.h {
			t.Fatalf("%d pixels for %dx%d", len(g.pix), g.w, g.h)
		}
	})
}

// FuzzFixJPEG: no panic, never longer, and a stream without tiff2pdf's
// quirks is left as it is.
func FuzzFixJPEG(f *testing.F) {
	if jpg := firstImageStream(f, "scan_0003.pdf"); jpg != nil {
		f.Add(jpg[:min(len(jpg), 4096)])
	}
	f.Add([]byte{0xff, 0xd8, 0xff, 0xdb, 0x00, 0x04, 0, 0, 0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 1, 0xff, 0xd9, 0xff, 0xd8, 0xff, 0xd0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		out := fixJPEG(data)
		if len(out) > len(data) {
			t.Fatalf("%d bytes out of %d", len(out), len(data))
		}
		if !bytes.Contains(data[min(2, len(data)):], []byte{0xff, 0xd8}) && !bytes.Equal(out, data) {
			t.Fatal("changed a stream without a second SOI")
		}
	})
}

// firstImageStream returns the stored stream of the first page image of a
// sample.
func firstImageStream(tb testing.TB, name string) []byte {
	data, err := os.ReadFile(filepath.Join(testenv.Corpus(tb), name))
	if err != nil {
		return nil
	}
	doc, err := openPDF(context.Background(), data, int64(len(data)))
	if err != nil {
		tb.Fatal(err)
	}
	refs, err := scanPages(doc.XRefTable)
	if err != nil || len(refs) == 0 || refs[0].img == nil {
		tb.Fatalf("%s: no page image (%v)", name, err)
	}
	return refs[0].img.Raw
}

// imagePDF is a one-page PDF whose page image has the given dictionary
// entries and stream.
func imagePDF(dict string, stream []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>")
	obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image %s /Length %d >>\nstream\n%s\nendstream", dict, len(stream), stream))
	obj("<< /Length 22 >>\nstream\nq 72 0 0 72 0 0 cm /Im0 Do Q\nendstream")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}

// FuzzImageDict reads image dictionaries of any content (colour spaces,
// indexed lookups, filters and their parameters, /Decode) over any stream:
// the parameters are read and the image decoded without panic. Panics of
// pdfcpu's parser are not this package's (Read recovers them).
func FuzzImageDict(f *testing.F) {
	for _, s := range []struct {
		dict   string
		stream []byte
	}{
		{"/Width 8 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8", bytes.Repeat([]byte{0x80}, 16)},
		{"/Width 8 /Height 1 /ColorSpace [/Indexed /DeviceRGB 1 <000000ffffff>] /BitsPerComponent 1", []byte{0x55}},
		{"/Width 4 /Height 1 /ColorSpace [/Indexed /DeviceCMYK 3 (abcdefghijklmnop)] /BitsPerComponent 2", []byte{0x1b}},
		{"/Width 2 /Height 1 /ColorSpace [/ICCBased 6 0 R] /BitsPerComponent 8 /Decode [1 0 1 0 1 0]", []byte{1, 2, 3, 4, 5, 6}},
		{"/Width 8 /Height 8 /ImageMask true /Decode [1 0]", bytes.Repeat([]byte{0xf0}, 8)},
		{"/Width 8 /Height 8 /BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 8 /BlackIs1 true >>", []byte{0x26, 0xa0, 0, 0x10, 0, 0x10}},
		{"/Width 3 /Height 1 /ColorSpace [/Separation /Black /DeviceCMYK 6 0 R] /BitsPerComponent 8 /Filter [/AHx]", []byte("00 7f ff>")},
		{"/Width 2 /Height 2 /ColorSpace [/DeviceN [/C /M] /DeviceCMYK 6 0 R] /BitsPerComponent 4 /Filter /RunLengthDecode", []byte{1, 0x12, 0x34, 128}},
	} {
		f.Add(s.dict, s.stream)
	}
	f.Fuzz(func(t *testing.T, dict string, stream []byte) {
		if bytes.Contains([]byte(dict), []byte("stream")) {
			return
		}
		data := imagePDF(dict, stream)
		var refs []pageRef
		func() {
			defer func() { recover() }() // pdfcpu's own
			doc, err := openPDF(context.Background(), data, int64(len(data)))
			if err != nil {
				return
			}
			refs, _ = scanPages(doc.XRefTable)
		}()
		for _, ref := range refs {
			if ref.img == nil {
				continue
			}
			p, err := params(ref.xt, ref.img)
			if err != nil {
				continue
			}
			if g, err := decodeImage(p, ref.img.Raw, 1<<16); err == nil {
				isBlank(g, DefaultBlankWhite, DefaultBlankCoverage)
			}
		}
	})
}
