package hostilepdf

import (
	"fmt"
	"strings"
)

// Case is a file made to hurt a parser, and the verdict it must get.
type Case struct {
	Name   string
	File   func() []byte
	Reason string   // "" : valid
	Pages  int      // for valid files
	DPI    float64  // MinDPI, for valid and low_dpi files (rounded)
	Flags  []string // for valid files
}

const gib = 1 << 30

// Cases returns the hostile files and their verdicts.
func Cases() []Case {
	return []Case{
		{Name: "bomb in a content stream", File: func() []byte {
			p := New()
			c := p.Stream("/Filter /FlateDecode", Zeros(4*gib, ' '))
			return p.Pages("", p.Page(A4, p.Grey(1654, 2339), "/Contents "+Ref(c)))
		}, Reason: "", Pages: 1, DPI: 200},
		{Name: "bomb in a page image", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", Zeros(4*gib, 0xff))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "", Pages: 1, DPI: 200},
		{Name: "bomb in a double-Flate image", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/FlateDecode /FlateDecode]", DeflateAgain(Zeros(16*gib, 0xff)))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "", Pages: 1, DPI: 200},
		// Nesting deeper than pdfcpu's recursion limit makes the object
		// unparsable (null): harmless in an object nothing needs, fatal
		// in the catalog.
		{Name: "nested arrays", File: func() []byte {
			p := New()
			p.Add("[" + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "]")
			return p.Pages("", p.Page(A4, p.Grey(1654, 2339), ""))
		}, Reason: "", Pages: 1, DPI: 200},
		{Name: "page nested past the parser's limit", File: func() []byte {
			// The page object itself reads as null: without a check of its
			// own, pdfcpu's relaxed validation puts a blank page there.
			p := New()
			return p.Pages("", p.Page(A4, p.Grey(1654, 2339), "/Deep "+strings.Repeat("[", 200_000)+strings.Repeat("]", 200_000)))
		}, Reason: "unreadable"},
		{Name: "nested dictionaries", File: func() []byte {
			p := New()
			pg := p.Page(A4, p.Grey(1654, 2339), "")
			p.Set(1, "<</Type /Catalog /Pages 2 0 R /Deep "+strings.Repeat("<</A ", 200_000)+strings.Repeat(">>", 200_000)+">>")
			p.Set(2, "<</Type /Pages /Count 1 /Kids ["+Ref(pg)+"]>>")
			return p.Bytes()
		}, Reason: "unreadable"},
		{Name: "page tree cycle", File: func() []byte {
			p := New()
			img := p.Grey(1654, 2339)
			pg := p.Page(A4, img, "")
			mid := p.Add(fmt.Sprintf("<</Type /Pages /Parent 2 0 R /Count 2 /Kids [%s 2 0 R]>>", Ref(pg)))
			p.Set(1, "<</Type /Catalog /Pages 2 0 R>>")
			p.Set(2, fmt.Sprintf("<</Type /Pages /Count 2 /Kids [%s]>>", Ref(mid)))
			return p.Bytes()
		}, Reason: "unreadable"},
		{Name: "10000 pages", File: func() []byte { return ManyPages(10_000) }, Reason: "", Pages: 10000, DPI: 200},
		{Name: "page of 200 inches", File: func() []byte {
			p := New()
			return p.Pages("", p.Page("[0 0 14400 14400]", p.Grey(1654, 2339), ""))
		}, Reason: "low_dpi", Pages: 1, DPI: 8},
		{Name: "JBIG2 at 200 dpi", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 1654 /Height 2339 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", []byte("\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "", Pages: 1, DPI: 200},
		{Name: "JBIG2 at 100 dpi", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 827 /Height 1170 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /JBIG2Decode", []byte("\x00\x00\x00\x00\x30\x00\x01\x00\x00\x00\x13"))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "low_dpi", Pages: 1, DPI: 100},
		{Name: "JPX at 300 dpi", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 2481 /Height 3508 /Filter /JPXDecode", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "", Pages: 1, DPI: 300},
		{Name: "JPX at 150 dpi", File: func() []byte {
			p := New()
			img := p.Stream("/Type /XObject /Subtype /Image /Width 1240 /Height 1754 /Filter /JPXDecode", []byte("\x00\x00\x00\x0cjP  \r\n\x87\n"))
			return p.Pages("", p.Page(A4, img, ""))
		}, Reason: "low_dpi", Pages: 1, DPI: 150},
		{Name: "font", File: func() []byte {
			p := New()
			f := p.Add("<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>")
			c := p.Stream("", []byte("BT /F1 12 Tf 72 720 Td (Don xin) Tj ET"))
			img := p.Grey(1654, 2339)
			pg := p.Add(fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox %s /Resources <</XObject <</Im0 %s>> /Font <</F1 %s>>>> /Contents %s>>", A4, Ref(img), Ref(f), Ref(c)))
			return p.Pages("", pg)
		}, Reason: "", Pages: 1, DPI: 200, Flags: []string{"fonts"}},
		{Name: "JavaScript", File: func() []byte {
			p := New()
			js := p.Add("<</S /JavaScript /JS (app.alert\\('x'\\))>>")
			return p.Pages("/OpenAction "+Ref(js), p.Page(A4, p.Grey(1654, 2339), ""))
		}, Reason: "", Pages: 1, DPI: 200, Flags: []string{"javascript"}},
		{Name: "embedded file", File: func() []byte {
			p := New()
			ef := p.Stream("/Type /EmbeddedFile", []byte("MZ this is not a scan"))
			spec := p.Add(fmt.Sprintf("<</Type /Filespec /F (setup.exe) /EF <</F %s>>>>", Ref(ef)))
			return p.Pages(fmt.Sprintf("/Names <</EmbeddedFiles <</Names [(setup.exe) %s]>>>>", Ref(spec)), p.Page(A4, p.Grey(1654, 2339), ""))
		}, Reason: "", Pages: 1, DPI: 200, Flags: []string{"embedded_files"}},
	}
}
