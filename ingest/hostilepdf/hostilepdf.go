// Package hostilepdf writes PDFs made to hurt a parser (decompression
// bombs, deep nesting, page-tree cycles, huge page counts and sizes, images
// in encodings sohoa does not decode, JavaScript and attachments), each
// with the verdict sohoa must give it, for tests. Files are built in memory
// by hand rather than kept as fixtures: a 4 GiB bomb is 4 MB.
package hostilepdf

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"fmt"
	"strconv"
	"strings"
)

// Doc builds a PDF by hand: numbered objects, a classic cross-reference
// table, a trailer. Object 1 is the catalog, 2 the page tree root.
type Doc struct {
	objs [][]byte // object n is objs[n-1]
}

// Add appends an object and returns its number.
func (p *Doc) Add(body string) int {
	p.objs = append(p.objs, []byte(body))
	return len(p.objs)
}

// Set replaces object n (added earlier as a placeholder).
func (p *Doc) Set(n int, body string) { p.objs[n-1] = []byte(body) }

// Stream appends a stream object.
func (p *Doc) Stream(dict string, data []byte) int {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<<%s /Length %d>>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	p.objs = append(p.objs, b.Bytes())
	return len(p.objs)
}

func (p *Doc) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(p.objs))
	for i, o := range p.objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		b.Write(o)
		b.WriteString("\nendobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(p.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(p.objs)+1, xref)
	return b.Bytes()
}

// Ref is an indirect reference to object n.
func Ref(n int) string { return strconv.Itoa(n) + " 0 R" }

// A4 is an A4 page in points.
const A4 = "[0 0 595 842]"

// New returns a document whose objects 1 (catalog) and 2 (page tree)
// are written by pages.
func New() *Doc {
	p := &Doc{}
	p.Add("null")
	p.Add("null")
	return p
}

// Pages writes the catalog (with extra entries) and a flat page tree of
// the given page objects, and returns the file.
func (p *Doc) Pages(extra string, kids ...int) []byte {
	refs := make([]string, len(kids))
	for i, k := range kids {
		refs[i] = Ref(k)
	}
	p.Set(1, "<</Type /Catalog /Pages 2 0 R "+extra+">>")
	p.Set(2, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", len(kids), strings.Join(refs, " ")))
	return p.Bytes()
}

// Page adds a page of size box showing image img (0: none) with extra
// entries in its dictionary, and returns its number.
func (p *Doc) Page(box string, img int, extra string) int {
	res := "<<>>"
	if img > 0 {
		res = "<</XObject <</Im0 " + Ref(img) + ">>>>"
	}
	return p.Add(fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox %s /Resources %s %s>>", box, res, extra))
}

// Grey is a grey image XObject of w x h pixels, all white, Flate-encoded
// (a few KB for a page).
func (p *Doc) Grey(w, h int) int {
	return p.Stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", w, h),
		Zeros(int64(w)*int64(h), 0xff))
}

// RGB is a colour image XObject of w x h pixels, all white,
// Flate-encoded.
func (p *Doc) RGB(w, h int) int {
	return p.Stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode", w, h),
		Zeros(3*int64(w)*int64(h), 0xff))
}

// Healthy is a one-page A4 scan at 200 dpi; different ids give different
// files (a distinct SHA-256 each).
func Healthy(id int) []byte {
	p := New()
	return p.Pages("", p.Page(A4, p.Grey(1654, 2339), fmt.Sprintf("/SohoaTestID %d", id)))
}

// Zeros returns n bytes of value v, Flate (zlib) encoded, built without
// compressing them: deflate blocks of a run of equal bytes repeat, so one
// block is written and repeated (n is rounded up to whole MiB above 1 MiB).
func Zeros(n int64, v byte) []byte {
	const chunk = 1 << 20
	if n <= chunk {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = w.Write(bytes.Repeat([]byte{v}, int(n))) // into memory: cannot fail
		w.Close()
		return zlibWrap(b.Bytes(), n, v)
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	run := bytes.Repeat([]byte{v}, chunk)
	var blocks [][]byte
	for range 3 {
		start := b.Len()
		_, _ = w.Write(run) // into memory: cannot fail
		w.Flush()
		blocks = append(blocks, bytes.Clone(b.Bytes()[start:]))
	}
	if !bytes.Equal(blocks[1], blocks[2]) {
		panic("deflate blocks of a run do not repeat")
	}
	start := b.Len()
	w.Close()
	end := bytes.Clone(b.Bytes()[start:])
	chunks := (n + chunk - 1) / chunk
	var out bytes.Buffer
	out.Write(blocks[0])
	for i := int64(1); i < chunks; i++ {
		out.Write(blocks[1])
	}
	out.Write(end)
	return zlibWrap(out.Bytes(), chunks*chunk, v)
}

// zlibWrap adds the zlib header and the Adler-32 of n bytes of value v.
func zlibWrap(deflated []byte, n int64, v byte) []byte {
	const mod = 65521
	a := (1 + n%mod*int64(v)) % mod
	// b = sum over i=1..n of (1 + i*v) = n + v*n(n+1)/2, mod 65521
	nm := n % mod
	b := (nm + int64(v)*(nm*((n+1)%mod)%mod*inv2%mod)) % mod
	sum := uint32(b)<<16 | uint32(a)
	out := append([]byte{0x78, 0xda}, deflated...)
	return append(out, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

// inv2 is the inverse of 2 modulo 65521.
const inv2 = (65521 + 1) / 2

// DeflateAgain zlib-encodes data (a second Flate layer).
func DeflateAgain(data []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	_, _ = w.Write(data) // into memory: cannot fail
	w.Close()
	return b.Bytes()
}

// ManyPages is a document of n A4 pages sharing one 200 dpi image: pdfcpu
// takes about 0.1 ms of CPU and some KB of memory a page to read it, so
// 100,000 pages outgrow small limits.
func ManyPages(n int) []byte {
	p := New()
	img := p.Grey(1654, 2339)
	kids := make([]int, n)
	for i := range kids {
		kids[i] = p.Page(A4, img, "")
	}
	return p.Pages("", kids...)
}
