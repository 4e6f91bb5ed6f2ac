package sandbox_test

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// pdf builds a PDF by hand: numbered objects, a classic cross-reference
// table, a trailer. Object 1 is the catalog, 2 the page tree root.
type pdf struct {
	objs [][]byte // object n is objs[n-1]
}

// add appends an object and returns its number.
func (p *pdf) add(body string) int {
	p.objs = append(p.objs, []byte(body))
	return len(p.objs)
}

// set replaces object n (added earlier as a placeholder).
func (p *pdf) set(n int, body string) { p.objs[n-1] = []byte(body) }

// stream appends a stream object.
func (p *pdf) stream(dict string, data []byte) int {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<<%s /Length %d>>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	p.objs = append(p.objs, b.Bytes())
	return len(p.objs)
}

func (p *pdf) bytes() []byte {
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

// ref is an indirect reference to object n.
func ref(n int) string { return strconv.Itoa(n) + " 0 R" }

// a4 is an A4 page in points.
const a4 = "[0 0 595 842]"

// newPDF returns a document whose objects 1 (catalog) and 2 (page tree)
// are written by pages.
func newPDF() *pdf {
	p := &pdf{}
	p.add("null")
	p.add("null")
	return p
}

// pages writes the catalog (with extra entries) and a flat page tree of
// the given page objects, and returns the file.
func (p *pdf) pages(extra string, kids ...int) []byte {
	refs := make([]string, len(kids))
	for i, k := range kids {
		refs[i] = ref(k)
	}
	p.set(1, "<</Type /Catalog /Pages 2 0 R "+extra+">>")
	p.set(2, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", len(kids), strings.Join(refs, " ")))
	return p.bytes()
}

// page adds a page of size box showing image img (0: none) with extra
// entries in its dictionary, and returns its number.
func (p *pdf) page(box string, img int, extra string) int {
	res := "<<>>"
	if img > 0 {
		res = "<</XObject <</Im0 " + ref(img) + ">>>>"
	}
	return p.add(fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox %s /Resources %s %s>>", box, res, extra))
}

// grey is a grey image XObject of w x h pixels, all white, Flate-encoded
// (a few KB for a page).
func (p *pdf) grey(w, h int) int {
	return p.stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", w, h),
		zeros(int64(w)*int64(h), 0xff))
}

// healthy is a one-page A4 scan at 200 dpi.
func healthy() []byte {
	p := newPDF()
	return p.pages("", p.page(a4, p.grey(1654, 2339), ""))
}

// zeros returns n bytes of value v, Flate (zlib) encoded, built without
// compressing them: deflate blocks of a run of equal bytes repeat, so one
// block is written and repeated (n is rounded up to whole MiB above 1 MiB).
func zeros(n int64, v byte) []byte {
	const chunk = 1 << 20
	if n <= chunk {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, flate.BestCompression)
		w.Write(bytes.Repeat([]byte{v}, int(n)))
		w.Close()
		return zlibWrap(b.Bytes(), n, v)
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	run := bytes.Repeat([]byte{v}, chunk)
	var blocks [][]byte
	for range 3 {
		start := b.Len()
		w.Write(run)
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

func TestZeros(t *testing.T) {
	for _, n := range []int64{10, 1 << 20, 3 << 20} {
		r, err := zlib.NewReader(bytes.NewReader(zeros(n, 0xff)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil || int64(len(b)) != n || bytes.Count(b, []byte{0xff}) != len(b) {
			t.Fatalf("zeros(%d): %d bytes, %v", n, len(b), err)
		}
	}
}

// deflateAgain zlib-encodes data (a second Flate layer).
func deflateAgain(data []byte) []byte {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}
