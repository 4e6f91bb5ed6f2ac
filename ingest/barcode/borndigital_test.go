package barcode

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// bornDigital writes a PDF of n pages of text and vector graphics, as an
// office program exports them; every fifth page also carries a small logo
// image (not a scan of the page).
func bornDigital(t testing.TB, path string, n int) {
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
	logo := make([]byte, 120*60)
	for i := range logo {
		logo[i] = byte(i * 7)
	}
	logoSD := &types.StreamDict{
		Dict: types.Dict{
			"Type": types.Name("XObject"), "Subtype": types.Name("Image"),
			"Width": types.Integer(120), "Height": types.Integer(60),
			"BitsPerComponent": types.Integer(8), "ColorSpace": types.Name("DeviceGray"),
			"Filter": types.Name(filter.Flate),
		},
		Content:        logo,
		FilterPipeline: []types.PDFFilter{{Name: filter.Flate}},
	}
	if err := logoSD.Encode(); err != nil {
		t.Fatal(err)
	}
	logoRef, err := xt.IndRefForNewObject(*logoSD)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		var c bytes.Buffer
		fmt.Fprintf(&c, "BT /F1 14 Tf 72 770 Td (Page %d: CONG HOA XA HOI CHU NGHIA VIET NAM) Tj ET\n", i)
		for y := 700; y > 100; y -= 24 {
			fmt.Fprintf(&c, "BT /F1 11 Tf 72 %d Td (Ho va ten: Le Van Hung  000.00.12.H57-200320-0001) Tj ET\n", y)
		}
		c.WriteString("0.5 w 60 60 475 720 re S 72 90 m 520 90 l S 0.9 g 300 600 200 80 re f\n")
		res := types.Dict{"Font": types.Dict{"F1": types.Dict{
			"Type": types.Name("Font"), "Subtype": types.Name("Type1"),
			"BaseFont": types.Name("Helvetica"), "Encoding": types.Name("WinAnsiEncoding"),
		}}}
		if i%5 == 0 {
			c.WriteString("q 60 0 0 30 480 780 cm /Logo Do Q\n")
			res["XObject"] = types.Dict{"Logo": *logoRef}
		}
		sd, err := xt.NewStreamDictForBuf(c.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := sd.Encode(); err != nil {
			t.Fatal(err)
		}
		contents, err := xt.IndRefForNewObject(*sd)
		if err != nil {
			t.Fatal(err)
		}
		page, err := xt.IndRefForNewObject(types.Dict{
			"Type": types.Name("Page"), "Parent": *pagesRef,
			"MediaBox": types.RectForFormat("A4").Array(), "Resources": res, "Contents": *contents,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := model.AppendPageTree(page, 1, pagesDict); err != nil {
			t.Fatal(err)
		}
	}
	doc.PageCount = n
	var buf bytes.Buffer
	if err := api.WriteContext(doc, &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBornDigital checks that pages without a scanned image are passed
// through without any decoding: a long born-digital file is read in a
// moment (decoding a single page image takes tens of milliseconds).
func TestBornDigital(t *testing.T) {
	path := filepath.Join(t.TempDir(), "born-digital.pdf")
	const n = 40
	bornDigital(t, path, n)
	var r Reader
	start := time.Now()
	pages, err := r.Read(context.Background(), path)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pages in %v", len(pages), elapsed)
	if len(pages) != n {
		t.Fatalf("%d pages, want %d", len(pages), n)
	}
	for _, p := range pages {
		if p.Image || p.Blank || len(p.Codes) != 0 || p.Detail != "" {
			t.Errorf("page %d: %+v, want nothing", p.Index, p)
		}
	}
	if elapsed > time.Second {
		t.Errorf("%v for %d pages without images", elapsed, n)
	}
}
