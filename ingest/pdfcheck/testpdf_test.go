package pdfcheck

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
)

// testPage describes one page of a generated scan.
type testPage struct {
	box, crop  string   // MediaBox and optional CropBox, "llx lly urx ury"
	inheritBox bool     // put the MediaBox on the page tree node instead
	rotate     int      // /Rotate
	images     [][2]int // pixel sizes of the page's image XObjects
	inForm     bool     // draw the images through a form XObject
}

// brokenKind selects damage done to a generated file.
type brokenKind int

const (
	intact        brokenKind = iota
	zeroXref                 // as SANE's scanimage writes: every offset 0, startxref 0
	cutBeforeXref            // the file ends after the last object
)

// buildPDF writes a minimal PDF whose images are blank 1-bit bitmaps of the
// given sizes. Only one box may be inherited: the first page's.
func buildPDF(pages []testPage, broken brokenKind) []byte {
	objs := [][]byte{nil, nil} // 1: catalog, 2: page tree root
	add := func(b []byte) int { objs = append(objs, b); return len(objs) }
	var kids []string
	for _, p := range pages {
		var xobjs []string
		for i, sz := range p.images {
			xobjs = append(xobjs, fmt.Sprintf("/Im%d %d 0 R", i, add(imageObject(sz[0], sz[1]))))
		}
		draw := "/Im0 Do"
		if p.inForm {
			form := add(stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << %s >> >>",
				strings.Join(xobjs, " ")), []byte(draw)))
			xobjs, draw = []string{fmt.Sprintf("/Fm0 %d 0 R", form)}, "/Fm0 Do"
		}
		content := add(stream("", []byte("q 595 0 0 842 0 0 cm "+draw+" Q")))
		d := fmt.Sprintf("/Type /Page /Parent 2 0 R /Contents %d 0 R /Resources << /XObject << %s >> >>", content, strings.Join(xobjs, " "))
		if !p.inheritBox {
			d += " /MediaBox [" + p.box + "]"
		}
		if p.crop != "" {
			d += " /CropBox [" + p.crop + "]"
		}
		if p.rotate != 0 {
			d += fmt.Sprintf(" /Rotate %d", p.rotate)
		}
		kids = append(kids, fmt.Sprintf("%d 0 R", add([]byte("<< "+d+" >>"))))
	}
	root := fmt.Sprintf("/Type /Pages /Kids [%s] /Count %d", strings.Join(kids, " "), len(kids))
	if len(pages) > 0 && pages[0].inheritBox {
		root += " /MediaBox [" + pages[0].box + "]"
	}
	objs[0] = []byte("<< /Type /Catalog /Pages 2 0 R >>")
	objs[1] = []byte("<< " + root + " >>")

	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	if broken == cutBeforeXref {
		return b.Bytes()
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		if broken == zeroXref {
			off = 0
		}
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	if broken == zeroXref {
		xref = 0
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func imageObject(w, h int) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	zw.Write(make([]byte, (w+7)/8*h))
	zw.Close()
	return stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode", w, h), z.Bytes())
}

func stream(dict string, data []byte) []byte {
	return fmt.Appendf(nil, "<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}
