package pdfdoc

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

func TestConfig(t *testing.T) {
	def := model.DefaultResourceLimits()
	c := Config(Options{Cmd: model.CREATE})
	if c.Limits != def || !c.WriteObjectStream || !c.WriteXRefStream || c.Cmd != model.CREATE || !c.Offline {
		t.Errorf("zero options: %+v", c)
	}
	c = Config(Options{MaxStream: 1234, ClassicXRef: true, Cmd: model.VALIDATE})
	want := def
	want.MaxStreamBytes, want.MaxDecodeBytes, want.MaxObjectCount, want.MaxXRefEntries = 1234, 128<<20, 1_000_000, 1_000_000
	if c.Limits != want || c.WriteObjectStream || c.WriteXRefStream || c.Cmd != model.VALIDATE {
		t.Errorf("reading options: %+v", c)
	}
	if a, b := Config(Options{}), Config(Options{}); a == b {
		t.Error("configurations are shared")
	}
}

func nums(v ...float64) types.Array {
	a := make(types.Array, len(v))
	for i, f := range v {
		a[i] = types.Float(f)
	}
	return a
}

func TestRect(t *testing.T) {
	xt := newXRefTable(t)
	ref, err := xt.IndRefForNewObject(types.Array{types.Integer(0), types.Integer(0), types.Integer(595), types.Integer(842)})
	if err != nil {
		t.Fatal(err)
	}
	numRef, err := xt.IndRefForNewObject(types.Float(842))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    types.Object
		want [4]float64
		ok   bool
	}{
		{"nil", nil, [4]float64{}, false},
		{"A4", nums(0, 0, 595, 842), [4]float64{0, 0, 595, 842}, true},
		{"integers", types.Array{types.Integer(10), types.Integer(20), types.Integer(30), types.Integer(40)}, [4]float64{10, 20, 30, 40}, true},
		{"reversed corners", nums(595, 842, 0, 0), [4]float64{0, 0, 595, 842}, true},
		{"mixed corners", nums(0, 842, 595, 0), [4]float64{0, 0, 595, 842}, true},
		{"negative origin", nums(-10, -20, 10, 20), [4]float64{-10, -20, 10, 20}, true},
		{"indirect array", *ref, [4]float64{0, 0, 595, 842}, true},
		{"indirect number", types.Array{types.Integer(0), types.Integer(0), types.Integer(595), *numRef}, [4]float64{0, 0, 595, 842}, true},
		{"zero width", nums(10, 0, 10, 842), [4]float64{10, 0, 10, 842}, false},
		{"zero height", nums(0, 5, 595, 5), [4]float64{0, 5, 595, 5}, false},
		{"three numbers", nums(0, 0, 595), [4]float64{}, false},
		{"five numbers", nums(0, 0, 595, 842, 1), [4]float64{}, false},
		{"NaN", nums(0, 0, math.NaN(), 842), [4]float64{}, false},
		{"Inf", nums(0, 0, math.Inf(1), 842), [4]float64{}, false},
		{"a name", types.Array{types.Integer(0), types.Integer(0), types.Name("A4"), types.Integer(842)}, [4]float64{}, false},
		{"not an array", types.Integer(595), [4]float64{}, false},
	} {
		got, ok := Rect(xt, c.o)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: %v %v, want %v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestPageSize(t *testing.T) {
	xt := newXRefTable(t)
	a4 := nums(0, 0, 595, 842)
	for _, c := range []struct {
		name        string
		page        types.Dict
		media, crop types.Object
		w, h        float64
		ok          bool
	}{
		{"MediaBox", types.Dict{}, a4, nil, 595, 842, true},
		{"no MediaBox", types.Dict{}, nil, a4, 0, 0, false},
		{"bad MediaBox", types.Dict{}, nums(0, 0, 0, 0), nil, 0, 0, false},
		{"CropBox inside", types.Dict{}, a4, nums(100, 100, 300, 500), 200, 400, true},
		{"CropBox clipped", types.Dict{}, a4, nums(-100, 442, 295, 1000), 295, 400, true},
		{"CropBox outside: ignored", types.Dict{}, a4, nums(600, 900, 700, 1000), 595, 842, true},
		{"bad CropBox: ignored", types.Dict{}, a4, nums(1, 2, 3), 595, 842, true},
		{"UserUnit", types.Dict{"UserUnit": types.Float(2)}, a4, nil, 1190, 1684, true},
		{"UserUnit and CropBox", types.Dict{"UserUnit": types.Integer(3)}, a4, nums(0, 0, 100, 200), 300, 600, true},
		{"UserUnit zero: ignored", types.Dict{"UserUnit": types.Integer(0)}, a4, nil, 595, 842, true},
		{"UserUnit huge: ignored", types.Dict{"UserUnit": types.Float(1e6)}, a4, nil, 595, 842, true},
		{"UserUnit a name: ignored", types.Dict{"UserUnit": types.Name("x")}, a4, nil, 595, 842, true},
	} {
		w, h, ok := PageSize(xt, c.page, c.media, c.crop)
		if w != c.w || h != c.h || ok != c.ok {
			t.Errorf("%s: %v×%v %v, want %v×%v %v", c.name, w, h, ok, c.w, c.h, c.ok)
		}
	}
}

func TestNumber(t *testing.T) {
	xt := newXRefTable(t)
	d := types.Dict{"I": types.Integer(7), "F": types.Float(2.5), "N": types.Float(math.NaN()), "S": types.Name("x")}
	for key, want := range map[string]float64{"I": 7, "F": 2.5, "N": 0, "S": 0, "missing": 0} {
		if got := Number(xt, d, key); got != want {
			t.Errorf("%s: %v, want %v", key, got, want)
		}
	}
}

// TestWalk reads a document whose page tree node carries the MediaBox and
// Resources its pages inherit; one page overrides the MediaBox and adds a
// CropBox, one draws its images through a form XObject, and one has none.
func TestWalk(t *testing.T) {
	doc := readPDF(t, []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R 6 0 R] /Count 4 /MediaBox [0 0 595 842] /Resources << /XObject << /A 7 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [842 595 0 0] /CropBox [0 0 421 595] /Resources << /XObject << /A 7 0 R /B 8 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /XObject << /F 9 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Resources << >> >>",
		image(100, 200),
		image(300, 100.5),
		"<< /Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /B 8 0 R /A 7 0 R >> >> /Length 0 >>\nstream\n\nendstream",
	})
	pages, err := Walk{}.Pages(doc.XRefTable)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ w, h, iw, ih float64 }{
		{595, 842, 100, 200},   // all inherited
		{421, 595, 300, 100.5}, // own boxes, the larger of two images
		{595, 842, 300, 100.5}, // through the form
		{595, 842, 0, 0},       // no image
	}
	if len(pages) != len(want) {
		t.Fatalf("%d pages, want %d", len(pages), len(want))
	}
	for i, p := range pages {
		w := want[i]
		if p.W != w.w || p.H != w.h || p.Image.W != w.iw || p.Image.H != w.ih || (p.Image.Stream == nil) != (w.iw == 0) {
			t.Errorf("page %d: %v×%v image %v×%v, want %v", i+1, p.W, p.H, p.Image.W, p.Image.H, w)
		}
	}

	// A caller's own size rule: whole pixels only.
	whole := func(xt *model.XRefTable, d types.Dict) (float64, float64) {
		return math.Trunc(Number(xt, d, "Width")), math.Trunc(Number(xt, d, "Height"))
	}
	pages, err = Walk{ImageSize: whole}.Pages(doc.XRefTable)
	if err != nil || pages[1].Image.W != 300 || pages[1].Image.H != 100 {
		t.Errorf("own size rule: %+v %v", pages[1].Image, err)
	}

	pages, err = Walk{MaxPages: 2}.Pages(doc.XRefTable)
	if err == nil || err.Error() != "more than 2 pages" || len(pages) != 2 {
		t.Errorf("MaxPages: %d pages, %v", len(pages), err)
	}
}

func TestWalkMissingMediaBox(t *testing.T) {
	doc := readPDF(t, []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R >>",
	})
	pages, err := Walk{}.Pages(doc.XRefTable)
	if err != nil || len(pages) != 2 || pages[1].W != 0 || pages[1].H != 0 {
		t.Errorf("lenient: %+v %v", pages, err)
	}
	pages, err = Walk{RequireMediaBox: true}.Pages(doc.XRefTable)
	if err == nil || err.Error() != "page 2: no usable MediaBox" || len(pages) != 1 {
		t.Errorf("RequireMediaBox: %d pages, %v", len(pages), err)
	}
}

func TestWalkLoop(t *testing.T) {
	doc := readPDF(t, []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
		"<< /Type /Page /Parent 2 0 R >>",
	})
	pages, err := Walk{}.Pages(doc.XRefTable)
	if err == nil || !strings.Contains(err.Error(), "visits object 2 twice") || len(pages) != 1 {
		t.Errorf("%d pages, %v", len(pages), err)
	}
}

func image(w, h float64) string {
	return fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %v /Height %v /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 0 >>\nstream\n\nendstream", w, h)
}

// readPDF writes objs as objects 1, 2, ... of a PDF with a classic
// cross-reference table and reads it as sohoa does.
func readPDF(t *testing.T, objs []string) *model.Context {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	doc, err := pdfcpu.ReadWithContext(context.Background(), bytes.NewReader(b.Bytes()), Config(Options{MaxStream: int64(b.Len())}))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func newXRefTable(t *testing.T) *model.XRefTable {
	t.Helper()
	doc, err := pdfcpu.CreateContextWithXRefTable(Config(Options{Cmd: model.CREATE}), types.PaperSize["A4"])
	if err != nil {
		t.Fatal(err)
	}
	return doc.XRefTable
}
