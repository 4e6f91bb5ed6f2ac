package sign

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// Stamp layout, in points.
const (
	stampMargin  = 14 // from the page's top-left corner (about 5 mm)
	stampSize    = 8  // font size
	stampLeading = 10 // line to line
	stampPad     = 3  // inside the frame
)

// StampLines are the lines of the visible stamp Circular 01/2023 asks for:
// the digitizer's name and the signing time, in Vietnam time.
func StampLines(name string, at time.Time) []string {
	return []string{
		"Người số hóa: " + norm.NFC.String(name),
		"Thời gian: " + at.In(dossier.ICT()).Format("02/01/2006 15:04"),
	}
}

// appearance is the stamp's appearance and the objects it needs.
type appearance struct {
	objs    []object // the font's
	w, h    float64  // the stamp's size, as read
	content []byte
	font    int // the Type0 font's object number
}

// form is the appearance form XObject numbered num; matrix turns it
// upright on a rotated page (see placement).
func (a appearance) form(num int, matrix string) object {
	return object{num: num, body: streamObject(fmt.Sprintf("/Type/XObject/Subtype/Form/BBox[0 0 %.2f %.2f]/Matrix[%s]/Resources<</Font<</F1 %d 0 R>>>>",
		a.w, a.h, matrix, a.font), a.content)}
}

// stampAppearance lays out lines in the embedded font and returns the
// appearance with its font's objects, numbered first to first+4: a Type0
// font with Identity-H encoding over a TrueType subset, with a ToUnicode
// map so that text extraction reads the lines.
func stampAppearance(lines []string, first int) (appearance, error) {
	f, err := newStampFont()
	if err != nil {
		return appearance{}, err
	}
	type glyph struct {
		r rune
		w float64
	}
	used := map[uint16]glyph{}
	var text bytes.Buffer
	widest := 0.0
	for i, line := range lines {
		var hex strings.Builder
		width := 0.0
		for _, r := range line {
			g, w, err := f.glyph(r)
			if err != nil {
				return appearance{}, fmt.Errorf("stamp font: %q: %w", r, err)
			}
			if _, ok := used[g]; !ok && g != 0 {
				used[g] = glyph{r, w}
			}
			fmt.Fprintf(&hex, "%04X", g)
			width += w
		}
		widest = max(widest, width*stampSize/1000)
		if i > 0 {
			fmt.Fprintf(&text, "0 %d Td ", -stampLeading)
		}
		fmt.Fprintf(&text, "<%s> Tj\n", hex.String())
	}
	w := widest + 2*stampPad
	h := float64(len(lines)*stampLeading + 2*stampPad)

	var content bytes.Buffer
	fmt.Fprintf(&content, "q 0.05 0.2 0.55 RG 0.6 w 0.3 0.3 %.2f %.2f re S\n", w-0.6, h-0.6)
	fmt.Fprintf(&content, "BT 0.05 0.2 0.55 rg /F1 %d Tf %d %.2f Td\n%sET Q\n", stampSize, stampPad, h-stampPad-stampSize+1, text.String())

	gids := make([]uint16, 0, len(used))
	for g := range used {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	sub, err := Subset(f.data, gids, []string{"hhea", "hmtx", "maxp", "cvt ", "fpgm", "prep"})
	if err != nil {
		return appearance{}, fmt.Errorf("stamp font subset: %w", err)
	}
	var widths, cmap strings.Builder
	for i, g := range gids {
		fmt.Fprintf(&widths, "%d[%.0f]", g, used[g].w)
		if i%100 == 0 {
			if i > 0 {
				cmap.WriteString("endbfchar\n")
			}
			fmt.Fprintf(&cmap, "%d beginbfchar\n", min(100, len(gids)-i))
		}
		fmt.Fprintf(&cmap, "<%04X> <", g)
		for _, u := range utf16.Encode([]rune{used[g].r}) {
			fmt.Fprintf(&cmap, "%04X", u)
		}
		cmap.WriteString(">\n")
	}
	if len(gids) > 0 {
		cmap.WriteString("endbfchar\n")
	}
	toUnicode := "/CIDInit/ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo<</Registry(Adobe)/Ordering(UCS)/Supplement 0>>def\n/CMapName/Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000><FFFF>\nendcodespacerange\n" + cmap.String() +
		"endcmap\nCMapName currentdict/CMap defineresource pop\nend\nend\n"

	tables, err := readTables(f.data)
	if err != nil {
		return appearance{}, err
	}
	head, hhea := tables["head"], tables["hhea"]
	unit := func(b []byte, at int) float64 { return float64(int16(binary.BigEndian.Uint16(b[at:]))) * 1000 / f.upem }
	name := subsetTag(gids) + "+DejaVuSans"
	fontFile, err := deflate(sub)
	if err != nil {
		return appearance{}, err
	}
	n := func(k int) int { return first + k - 1 }
	objs := []object{
		{num: n(1), body: fmt.Appendf(nil, "<</Type/Font/Subtype/Type0/BaseFont/%s/Encoding/Identity-H/DescendantFonts[%d 0 R]/ToUnicode %d 0 R>>",
			name, n(2), n(5))},
		{num: n(2), body: fmt.Appendf(nil, "<</Type/Font/Subtype/CIDFontType2/BaseFont/%s/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>"+
			"/FontDescriptor %d 0 R/CIDToGIDMap/Identity/DW 1000/W[%s]>>", name, n(3), widths.String())},
		{num: n(3), body: fmt.Appendf(nil, "<</Type/FontDescriptor/FontName/%s/Flags 32/FontBBox[%.0f %.0f %.0f %.0f]/ItalicAngle 0"+
			"/Ascent %.0f/Descent %.0f/CapHeight %.0f/StemV 80/FontFile2 %d 0 R>>",
			name, unit(head, 36), unit(head, 38), unit(head, 40), unit(head, 42), unit(hhea, 4), unit(hhea, 6), unit(hhea, 4), n(4))},
		{num: n(4), body: streamObject(fmt.Sprintf("/Filter/FlateDecode/Length1 %d", len(sub)), fontFile)},
		{num: n(5), body: streamObject("", []byte(toUnicode))},
	}
	return appearance{objs: objs, w: w, h: h, content: content.Bytes(), font: n(1)}, nil
}

// subsetTag is the six capital letters naming a font subset (ISO 32000
// 9.6.4), derived from the glyphs it holds.
func subsetTag(gids []uint16) string {
	h := sha256.New()
	for _, g := range gids {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	return string(tag)
}

// streamObject is a stream object's body: dict's entries and /Length.
func streamObject(dict string, data []byte) []byte {
	b := fmt.Appendf(nil, "<<%s/Length %d>>\nstream\n", dict, len(data))
	b = append(b, data...)
	return append(b, "\nendstream"...)
}

func deflate(b []byte) ([]byte, error) {
	var out bytes.Buffer
	z, err := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := z.Write(b); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// placement is where the stamp goes on a page whose visible box is box
// (llx, lly, urx, ury) and which is shown turned by rotate degrees
// clockwise: the widget's rectangle, in the page's space, in the corner
// shown top-left, and the form matrix that keeps the text upright there.
func placement(box [4]float64, rotate int, w, h float64) (rect [4]float64, matrix string) {
	x0, y0, x1, y1 := box[0], box[1], box[2], box[3]
	m := float64(stampMargin)
	switch ((rotate % 360) + 360) % 360 {
	case 90:
		return [4]float64{x0 + m, y0 + m, x0 + m + h, y0 + m + w}, "0 1 -1 0 0 0"
	case 180:
		return [4]float64{x1 - m - w, y0 + m, x1 - m, y0 + m + h}, "-1 0 0 -1 0 0"
	case 270:
		return [4]float64{x1 - m - h, y1 - m - w, x1 - m, y1 - m}, "0 -1 1 0 0 0"
	}
	return [4]float64{x0 + m, y1 - m - h, x0 + m + w, y1 - m}, "1 0 0 1 0 0"
}
