// Package coversheet makes cover sheets: one A4 page per dossier code with
// the code in large type, as a QR code and as a Code 128 barcode, and a line
// in Vietnamese telling staff to put the sheet on top of the dossier when
// scanning. Printed at 100% and scanned, the sheet links the scan by itself
// (ingest/barcode reads it).
//
// The PDF is built with pdfcpu's model. The code is real text in the
// standard Helvetica-Bold font; the barcodes are 1-bit images, Flate
// compressed (lossless), drawn at whole pixels per module at 600 dpi; the
// Vietnamese lines are rendered at 300 dpi from a TrueType font read at run
// time (DejaVu Sans from Debian's fonts-dejavu-core by default) into 8-bit
// grey images, since the PDF standard fonts have no Vietnamese letters.
// Nothing is written anywhere but to the given writer.
package coversheet

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"io"
	"os"
	"strings"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	pdffont "github.com/pdfcpu/pdfcpu/pkg/font"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// Default fonts: Debian's fonts-dejavu-core.
const (
	DefaultFont     = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	DefaultBoldFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
)

// The texts of a sheet.
const (
	title       = "TỜ BÌA HỒ SƠ"
	codeLabel   = "Mã hồ sơ"
	instruction = "Đặt trang này lên trên cùng hồ sơ khi quét." // first line
	automatic   = "Hệ thống sẽ tự nhận mã hồ sơ."               // second line
)

// Page geometry, in points (1/72 inch) from the top of an A4 page.
const (
	pageW, pageH  = 595.28, 841.89
	mm            = 72 / 25.4
	barcodeDPI    = 600 // pixels of the barcode images per inch
	textDPI       = 300 // pixels of the text images per inch
	maxCodeLength = 80
	codeFont      = "Helvetica-Bold"
)

// px converts a length in points to whole pixels at dpi.
func px(pt float64, dpi int) int { return int(pt / 72 * float64(dpi)) }

// Sheet makes cover sheets. The zero value uses DejaVu Sans at its Debian
// paths; it is safe for concurrent use.
type Sheet struct {
	Font     string // TrueType font for the Vietnamese text; "" means DefaultFont
	BoldFont string // TrueType font for the title; "" means DefaultBoldFont
}

// Write writes a PDF of one cover sheet per code to w, with the default
// fonts. See Sheet.Write.
func Write(w io.Writer, codes []string) error {
	return Sheet{}.Write(w, codes)
}

// Write writes a PDF of one A4 cover sheet per code to w. A code must be
// printable ASCII, at most 80 characters (Code 128 and the standard font
// carry nothing else); codes are written as given. It fails, writing
// nothing, when a code cannot be printed or a font is missing or lacks a
// letter.
func (s Sheet) Write(w io.Writer, codes []string) error {
	if len(codes) == 0 {
		return errors.New("cover sheet: no codes")
	}
	for _, c := range codes {
		if err := checkCode(c); err != nil {
			return fmt.Errorf("cover sheet: %w", err)
		}
	}
	regular, err := loadFont(s.Font, DefaultFont)
	if err != nil {
		return err
	}
	bold, err := loadFont(s.BoldFont, DefaultBoldFont)
	if err != nil {
		return err
	}
	doc, err := pdfcpu.CreateContextWithXRefTable(pdfConfig(), types.PaperSize["A4"])
	if err != nil {
		return fmt.Errorf("cover sheet: %w", err)
	}
	// The texts are the same on every sheet: one image each, shared.
	texts := map[string]textImage{}
	for _, t := range []struct {
		key  string
		f    *opentype.Font
		size float64
		s    string
	}{
		{"title", bold, 22, title},
		{"label", regular, 14, codeLabel},
		{"line1", regular, 15, instruction},
		{"line2", regular, 15, automatic},
	} {
		img, err := renderText(t.f, t.size, t.s)
		if err != nil {
			return fmt.Errorf("cover sheet: %w", err)
		}
		ti := textImage{w: float64(img.Rect.Dx()) * 72 / textDPI, h: float64(img.Rect.Dy()) * 72 / textDPI}
		if ti.ref, err = addImage(doc.XRefTable, img.Pix, img.Rect.Dx(), img.Rect.Dy(), 8); err != nil {
			return fmt.Errorf("cover sheet: %w", err)
		}
		texts[t.key] = ti
	}
	pagesRef, err := doc.Pages()
	if err != nil {
		return fmt.Errorf("cover sheet: %w", err)
	}
	pagesDict, err := doc.DereferenceDict(*pagesRef)
	if err != nil {
		return fmt.Errorf("cover sheet: %w", err)
	}
	for _, c := range codes {
		if err := addSheet(doc, *pagesRef, pagesDict, c, texts); err != nil {
			return fmt.Errorf("cover sheet for %s: %w", c, err)
		}
	}
	doc.PageCount = len(codes)
	var buf bytes.Buffer
	if err := api.WriteContext(doc, &buf); err != nil {
		return fmt.Errorf("cover sheet: write: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("cover sheet: %w", err)
	}
	return nil
}

func checkCode(c string) error {
	if c == "" {
		return errors.New("empty code")
	}
	if len(c) > maxCodeLength {
		return fmt.Errorf("code %.20q... longer than %d characters", c, maxCodeLength)
	}
	for _, r := range c {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("code %q: character %q cannot be printed as Code 128", c, r)
		}
	}
	return nil
}

// textImage is a rendered line of text placed as an image XObject.
type textImage struct {
	ref  types.IndirectRef
	w, h float64 // size on the page, in points
}

// addSheet adds one page for code.
func addSheet(doc *model.Context, pagesRef types.IndirectRef, pagesDict types.Dict, code string, texts map[string]textImage) error {
	xt := doc.XRefTable
	xobj := types.Dict{}
	var content strings.Builder
	y := 0.0 // top of the next element, in points from the top of the page
	place := func(name string, ref types.IndirectRef, w, h float64) {
		xobj[name] = ref
		fmt.Fprintf(&content, "q %.3f 0 0 %.3f %.3f %.3f cm /%s Do Q\n", w, h, (pageW-w)/2, pageH-y-h, name)
		y += h
	}

	y = 22 * mm
	t := texts["title"]
	place("Title", t.ref, t.w, t.h)
	y += 12 * mm
	t = texts["label"]
	place("Label", t.ref, t.w, t.h)
	y += 3 * mm

	// The code in large type, as wide as fits.
	size := 30.0
	if tw, err := pdffont.TextWidthFloat(code, codeFont, size); err == nil && tw > 170*mm {
		size *= 170 * mm / tw
	}
	tw, err := pdffont.TextWidthFloat(code, codeFont, size)
	if err != nil {
		return fmt.Errorf("measure the code: %w", err)
	}
	y += size * 0.75 // cap height of Helvetica-Bold: about 0.72 em
	fmt.Fprintf(&content, "BT /F1 %.2f Tf %.3f %.3f Td (%s) Tj ET\n", size, (pageW-tw)/2, pageH-y, escape(code))
	y += 12 * mm

	// QR code: 55 mm wide, quiet zone included.
	qr, err := qrcode.NewQRCodeWriter().Encode(code, gozxing.BarcodeFormat_QR_CODE, 0, 0,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_ERROR_CORRECTION: "M", gozxing.EncodeHintType_MARGIN: 4})
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	modPx := max(1, px(55*mm, barcodeDPI)/qr.GetWidth()) // whole pixels per module
	pix, pw, ph := bitmap(qr, modPx, modPx)
	ref, err := addImage(xt, pix, pw, ph, 1)
	if err != nil {
		return err
	}
	place("QR", ref, float64(pw)*72/barcodeDPI, float64(ph)*72/barcodeDPI)
	y += 10 * mm

	// Code 128: modules of 0.42 mm (10 pixels at 600 dpi) unless that is
	// wider than 170 mm; 18 mm tall; quiet zones of 10 modules.
	bar, err := oned.NewCode128Writer().Encode(code, gozxing.BarcodeFormat_CODE_128, 0, 1,
		map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_MARGIN: 20})
	if err != nil {
		return fmt.Errorf("Code 128: %w", err) //nolint:staticcheck // ST1005: the barcode's name
	}
	modPx = min(10, px(170*mm, barcodeDPI)/bar.GetWidth())
	if modPx < 3 {
		return errors.New("code too long for a Code 128 barcode on the page")
	}
	barH := px(18*mm, barcodeDPI)
	pix, pw, _ = bitmap(bar, modPx, 1)
	pix, ph = repeatRows(pix, pw, barH), barH
	if ref, err = addImage(xt, pix, pw, ph, 1); err != nil {
		return err
	}
	place("Bar", ref, float64(pw)*72/barcodeDPI, float64(ph)*72/barcodeDPI)
	y += 14 * mm

	t = texts["line1"]
	place("Line1", t.ref, t.w, t.h)
	y += 2 * mm
	t = texts["line2"]
	place("Line2", t.ref, t.w, t.h)

	contents, err := xt.NewStreamDictForBuf([]byte(content.String()))
	if err != nil {
		return err
	}
	if err := contents.Encode(); err != nil {
		return err
	}
	contentsRef, err := xt.IndRefForNewObject(*contents)
	if err != nil {
		return err
	}
	fonts := types.Dict{"F1": types.Dict{
		"Type":     types.Name("Font"),
		"Subtype":  types.Name("Type1"),
		"BaseFont": types.Name(codeFont),
		"Encoding": types.Name("WinAnsiEncoding"),
	}}
	page := types.Dict{
		"Type":      types.Name("Page"),
		"Parent":    pagesRef,
		"MediaBox":  types.NewRectangle(0, 0, pageW, pageH).Array(),
		"Resources": types.Dict{"XObject": xobj, "Font": fonts},
		"Contents":  *contentsRef,
	}
	pageRef, err := xt.IndRefForNewObject(page)
	if err != nil {
		return err
	}
	return model.AppendPageTree(pageRef, 1, pagesDict)
}

// escape makes s a PDF literal string's content.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
}

// bitmap renders a barcode matrix as 1-bit rows (1 white, 0 black: the
// samples of DeviceGray), each module sx by sy pixels.
func bitmap(m *gozxing.BitMatrix, sx, sy int) (pix []byte, w, h int) {
	w, h = m.GetWidth()*sx, m.GetHeight()*sy
	stride := (w + 7) / 8
	pix = make([]byte, stride*h)
	for i := range pix {
		pix[i] = 0xff
	}
	for my := 0; my < m.GetHeight(); my++ {
		for mx := 0; mx < m.GetWidth(); mx++ {
			if !m.Get(mx, my) {
				continue
			}
			for y := my * sy; y < (my+1)*sy; y++ {
				for x := mx * sx; x < (mx+1)*sx; x++ {
					pix[y*stride+x/8] &^= 0x80 >> (x % 8)
				}
			}
		}
	}
	return pix, w, h
}

// repeatRows makes an image of n copies of a one-row 1-bit image.
func repeatRows(row []byte, w, n int) []byte {
	stride := (w + 7) / 8
	out := make([]byte, 0, stride*n)
	for range n {
		out = append(out, row[:stride]...)
	}
	return out
}

// addImage adds a DeviceGray image XObject, Flate compressed, and returns
// its reference. It is drawn without interpolation, so that the edges of
// barcode modules stay sharp in every viewer.
func addImage(xt *model.XRefTable, pix []byte, w, h, bpc int) (types.IndirectRef, error) {
	sd := &types.StreamDict{
		Dict: types.Dict{
			"Type":             types.Name("XObject"),
			"Subtype":          types.Name("Image"),
			"Width":            types.Integer(w),
			"Height":           types.Integer(h),
			"BitsPerComponent": types.Integer(bpc),
			"ColorSpace":       types.Name("DeviceGray"),
			"Filter":           types.Name(filter.Flate),
		},
		Content:        pix,
		FilterPipeline: []types.PDFFilter{{Name: filter.Flate}},
	}
	if err := sd.Encode(); err != nil {
		return types.IndirectRef{}, fmt.Errorf("compress image: %w", err)
	}
	ref, err := xt.IndRefForNewObject(*sd)
	if err != nil {
		return types.IndirectRef{}, err
	}
	return *ref, nil
}

// loadFont reads and parses a TrueType font: path, or def when path is "".
func loadFont(path, def string) (*opentype.Font, error) {
	if path == "" {
		path = def
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cover sheet: font: %w (Debian's fonts-dejavu-core provides %s)", err, def)
	}
	f, err := opentype.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("cover sheet: font %s: %w", path, err)
	}
	return f, nil
}

// renderText draws one line of text at size points and textDPI, black on
// white, tightly framed with a little margin.
func renderText(f *opentype.Font, size float64, s string) (*image.Gray, error) {
	s = norm.NFC.String(s)
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: textDPI, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("font face: %w", err)
	}
	defer face.Close()
	for _, r := range s {
		if _, ok := face.GlyphAdvance(r); !ok {
			return nil, fmt.Errorf("the font has no glyph for %q", r)
		}
	}
	d := font.Drawer{Face: face}
	bounds, _ := d.BoundString(s)
	pad := 4
	w := (bounds.Max.X - bounds.Min.X).Ceil() + 2*pad
	h := (bounds.Max.Y - bounds.Min.Y).Ceil() + 2*pad
	if w <= 2*pad || h <= 2*pad || w > 20000 || h > 2000 {
		return nil, fmt.Errorf("text %q renders to %dx%d pixels", s, w, h)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Rect, image.White, image.Point{}, draw.Src)
	d.Dst, d.Src = img, image.Black
	d.Dot = fixed.Point26_6{
		X: fixed.I(pad) - bounds.Min.X,
		Y: fixed.I(pad) - bounds.Min.Y,
	}
	d.DrawString(s)
	return img, nil
}

// pdfConfig returns a fresh pdfcpu configuration for building a document,
// with pdfcpu's default resource limits.
func pdfConfig() *model.Configuration {
	return pdfdoc.Config(pdfdoc.Options{Cmd: model.CREATE})
}
