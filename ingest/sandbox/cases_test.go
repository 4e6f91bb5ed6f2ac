package sandbox_test

import (
	"fmt"
	"strings"
)

// hostileCase is a file made to hurt a parser, and the verdict it must get.
type hostileCase struct {
	name   string
	file   func() []byte
	reason string   // "" : valid
	pages  int      // for valid files
	dpi    float64  // MinDPI, for valid and low_dpi files (rounded)
	flags  []string // for valid files
}

const gib = 1 << 30

func hostileCases() []hostileCase {
	return []hostileCase{
		{name: "bomb in a content stream", file: func() []byte {
			p := newPDF()
			c := p.stream("/Filter /FlateDecode", zeros(4*gib, ' '))
			return p.pages("", p.page(a4, p.grey(1654, 2339), "/Contents "+ref(c)))
		}, reason: "", pages: 1, dpi: 200},
		{name: "bomb in a page image", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", zeros(4*gib, 0xff))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "", pages: 1, dpi: 200},
		{name: "bomb in a double-Flate image", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/FlateDecode /FlateDecode]", deflateAgain(zeros(16*gib, 0xff)))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "", pages: 1, dpi: 200},
		// Nesting deeper than pdfcpu's recursion limit makes the object
		// unparsable (null): harmless in an object nothing needs, fatal
		// in the catalog.
		{name: "nested arrays", file: func() []byte {
			p := newPDF()
			p.add("[" + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "]")
			return p.pages("", p.page(a4, p.grey(1654, 2339), ""))
		}, reason: "", pages: 1, dpi: 200},
		{name: "nested dictionaries", file: func() []byte {
			p := newPDF()
			pg := p.page(a4, p.grey(1654, 2339), "")
			p.set(1, "<</Type /Catalog /Pages 2 0 R /Deep "+strings.Repeat("<</A ", 200_000)+strings.Repeat(">>", 200_000)+">>")
			p.set(2, "<</Type /Pages /Count 1 /Kids ["+ref(pg)+"]>>")
			return p.bytes()
		}, reason: "unreadable"},
		{name: "page tree cycle", file: func() []byte {
			p := newPDF()
			img := p.grey(1654, 2339)
			pg := p.page(a4, img, "")
			mid := p.add(fmt.Sprintf("<</Type /Pages /Parent 2 0 R /Count 2 /Kids [%s 2 0 R]>>", ref(pg)))
			p.set(1, "<</Type /Catalog /Pages 2 0 R>>")
			p.set(2, fmt.Sprintf("<</Type /Pages /Count 2 /Kids [%s]>>", ref(mid)))
			return p.bytes()
		}, reason: "unreadable"},
		{name: "10000 pages", file: func() []byte {
			p := newPDF()
			img := p.grey(1654, 2339)
			kids := make([]int, 10000)
			for i := range kids {
				kids[i] = p.page(a4, img, "")
			}
			return p.pages("", kids...)
		}, reason: "", pages: 10000, dpi: 200},
		{name: "page of 200 inches", file: func() []byte {
			p := newPDF()
			return p.pages("", p.page("[0 0 14400 14400]", p.grey(1654, 2339), ""))
		}, reason: "low_dpi", pages: 1, dpi: 8},
		{name: "JBIG2 at 200 dpi", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", []byte("\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "", pages: 1, dpi: 200},
		{name: "JBIG2 at 100 dpi", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 827 /Height 1170 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", []byte("\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "low_dpi", pages: 1, dpi: 100},
		{name: "JPX at 300 dpi", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 2481 /Height 3508 /Filter /JPXDecode", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "", pages: 1, dpi: 300},
		{name: "JPX at 150 dpi", file: func() []byte {
			p := newPDF()
			img := p.stream("/Type /XObject /Subtype /Image /Width 1240 /Height 1754 /Filter /JPXDecode", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"))
			return p.pages("", p.page(a4, img, ""))
		}, reason: "low_dpi", pages: 1, dpi: 150},
		{name: "font", file: func() []byte {
			p := newPDF()
			f := p.add("<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>")
			c := p.stream("", []byte("BT /F1 12 Tf 72 720 Td (Don xin) Tj ET"))
			img := p.grey(1654, 2339)
			pg := p.add(fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox %s /Resources <</XObject <</Im0 %s>> /Font <</F1 %s>>>> /Contents %s>>", a4, ref(img), ref(f), ref(c)))
			return p.pages("", pg)
		}, reason: "", pages: 1, dpi: 200, flags: []string{"fonts"}},
		{name: "JavaScript", file: func() []byte {
			p := newPDF()
			js := p.add("<</S /JavaScript /JS (app.alert\\('x'\\))>>")
			return p.pages("/OpenAction "+ref(js), p.page(a4, p.grey(1654, 2339), ""))
		}, reason: "", pages: 1, dpi: 200, flags: []string{"javascript"}},
		{name: "embedded file", file: func() []byte {
			p := newPDF()
			ef := p.stream("/Type /EmbeddedFile", []byte("MZ this is not a scan"))
			spec := p.add(fmt.Sprintf("<</Type /Filespec /F (setup.exe) /EF <</F %s>>>>", ref(ef)))
			return p.pages(fmt.Sprintf("/Names <</EmbeddedFiles <</Names [(setup.exe) %s]>>>>", ref(spec)), p.page(a4, p.grey(1654, 2339), ""))
		}, reason: "", pages: 1, dpi: 200, flags: []string{"embedded_files"}},
	}
}
