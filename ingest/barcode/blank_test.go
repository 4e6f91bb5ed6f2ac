package barcode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestBlankFinderGenerated: over every scan mkscan.sh makes for these tests,
// exactly the blank backs of the duplex scans are blank; receipts and text
// pages never are, in any mode, resolution, quality or producer.
func TestBlankFinderGenerated(t *testing.T) {
	specs, files := gen.scans(t)
	var b BlankFinder
	for i, s := range specs {
		t.Run(s.name(), func(t *testing.T) {
			got, err := b.Find(context.Background(), files[i])
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for n := 1; n <= got.Pages; n++ {
				if s.blank(n) {
					want = append(want, n)
				}
			}
			if !slices.Equal(got.Blank, want) {
				t.Errorf("blank pages %v, want %v", got.Blank, want)
			}
			if got.Decoded > len(want)+1 {
				// Text pages are passed over by their stored size, not
				// decoded (one may be, in a scan of a single encoding).
				t.Errorf("decoded %d page images of %d to find %d blank", got.Decoded, got.Pages, len(want))
			}
			t.Logf("%d pages, %d decoded in %v", got.Pages, got.Decoded, got.Took)
		})
	}
}

// TestBlankFinderSamples: in the project's corpus only the duplex scan's backs
// are blank; the batch, the receipts and the repaired SANE scan keep all
// their pages.
func TestBlankFinderSamples(t *testing.T) {
	want := map[string][]int{"duplex_0001.pdf": {3, 5}}
	for _, row := range testenv.Expected(t) {
		if row.Verdict != "valid" {
			continue
		}
		t.Run(row.File, func(t *testing.T) {
			got, err := (&BlankFinder{}).Find(context.Background(), filepath.Join(testenv.Corpus(t), row.File))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Blank, want[row.File]) {
				t.Errorf("blank pages %v, want %v", got.Blank, want[row.File])
			}
		})
	}
}

// TestBlankFinderComposedPages: pages made to sit near the threshold. A
// back side with only a signature, or one short word, is kept; an empty
// page with heavy noise, dust and a lid shadow, or only a page number, is
// dropped; the same pages with a text stamp on them (born-digital content)
// are kept.
func TestBlankFinderComposedPages(t *testing.T) {
	testenv.NeedTool(t, "convert", "imagemagick")
	testenv.NeedTool(t, "img2pdf", "img2pdf")
	dir := t.TempDir()
	const size = "1654x2339" // A4 at 200 dpi
	noise := []string{"-seed", "7", "-attenuate", "0.4", "+noise", "Gaussian", "-colorspace", "Gray", "-quality", "75"}
	pages := []struct {
		name  string
		draw  []string
		blank bool
	}{
		{"empty", nil, true},
		{"dust and lid shadow", []string{"-fill", "#303030", "-draw", "circle 400,600 401,601", "-draw", "point 800,900",
			"-draw", "point 900,1900", "-fill", "#555555", "-draw", "rectangle 0,0 30,2339", "-attenuate", "0.8"}, true},
		{"signature only", []string{"-stroke", "#1a1a60", "-strokewidth", "3", "-fill", "none",
			"-draw", "bezier 1000,1900 1050,1800 1100,2000 1150,1880", "-draw", "bezier 1150,1880 1200,1780 1250,1990 1320,1870",
			"-draw", "line 990,1960 1400,1940"}, false},
		{"one word", []string{"-fill", "black", "-pointsize", "32", "-annotate", "+200+300", "Ghi chú"}, false},
		// A page number alone (about 0.004% ink) does not keep a page.
		{"page number", []string{"-fill", "black", "-pointsize", "28", "-annotate", "+800+2200", "- 2 -"}, true},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			jpg := filepath.Join(dir, p.name+".jpg")
			args := append([]string{"-size", size, "xc:white"}, p.draw...)
			args = append(append(args, noise...), jpg)
			if out, err := exec.Command("convert", args...).CombinedOutput(); err != nil {
				t.Fatalf("convert: %v\n%s", err, out)
			}
			pdf := filepath.Join(dir, p.name+".pdf")
			if out, err := exec.Command("img2pdf", "--imgsize", "200dpi", "-o", pdf, jpg).CombinedOutput(); err != nil {
				t.Fatalf("img2pdf: %v\n%s", err, out)
			}
			got, err := (&BlankFinder{}).Find(context.Background(), pdf)
			if err != nil {
				t.Fatal(err)
			}
			if blank := len(got.Blank) == 1; blank != p.blank {
				t.Errorf("blank %v, want %v", blank, p.blank)
			}
			if p.blank {
				// The same page with a text stamp over it is not a scan
				// alone any more: never blank.
				stamped := filepath.Join(dir, p.name+"-stamped.pdf")
				conf := pdfdoc.Config(pdfdoc.Options{Cmd: model.ADDWATERMARKS})
				if err := api.AddTextWatermarksFile(pdf, stamped, nil, true, "Bản sao", "scale:0.2 abs, op:1", conf); err != nil {
					t.Fatal(err)
				}
				got, err := (&BlankFinder{}).Find(context.Background(), stamped)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Blank) != 0 || got.Decoded != 0 {
					t.Errorf("stamped page: blank %v, %d decoded; want none", got.Blank, got.Decoded)
				}
			}
		})
	}
}

// TestBlankFinderBornDigital: text and vector pages are never decoded.
func TestBlankFinderBornDigital(t *testing.T) {
	p := filepath.Join(t.TempDir(), "office.pdf")
	bornDigital(t, p, 10)
	got, err := (&BlankFinder{}).Find(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pages != 10 || len(got.Blank) != 0 || got.Decoded != 0 {
		t.Errorf("got %+v, want 10 pages, none blank, none decoded", got)
	}
}

// TestBlankFinderDamaged: what cannot be read calls no page blank.
func TestBlankFinderDamaged(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "duplex_0001.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pdf")
	os.WriteFile(cut, src[:len(src)/3], 0o600)
	got, err := (&BlankFinder{}).Find(context.Background(), cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Blank) != 0 {
		t.Errorf("a truncated file has blank pages %v", got.Blank)
	}
	if _, err := (&BlankFinder{MaxBytes: 100}).Find(context.Background(), filepath.Join(testenv.Corpus(t), "duplex_0001.pdf")); err == nil {
		t.Error("a file over MaxBytes gave no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&BlankFinder{}).Find(ctx, filepath.Join(testenv.Corpus(t), "duplex_0001.pdf")); err == nil {
		t.Error("a cancelled context gave no error")
	}
}

func TestDrawsOneXObject(t *testing.T) {
	for _, tc := range []struct {
		content string
		name    string
		ok      bool
	}{
		{"q 1654 0 0 2339 0 0 cm /Im0 Do Q", "Im0", true},
		{"q\n595.28 0 0 841.89 0 0 cm\n/R7 gs % comment (\n/Im1 Do\nQ\n", "Im1", true},
		{"q [] 0 d 1 w 0 J /Im0 Do Q", "Im0", true},
		{"q /Im0 Do Q q /Im1 Do Q", "", false},         // two images
		{"q 1 0 0 1 0 0 cm Q", "", false},              // none
		{"BT /F1 12 Tf (x) Tj ET /Im0 Do", "", false},  // text
		{"/Im0 Do 0 0 100 100 re f", "", false},        // vector
		{"BI /W 1 /H 1 ID x EI", "", false},            // inline image
		{"q <</MCID 0>> BDC /Im0 Do EMC Q", "", false}, // dictionary operand
		{"Do", "", false},                // no operand
		{"q /Im0 Do Q 0.5 g", "", false}, // a colour for what follows
		{fmt.Sprintf("q %s /Im0 Do Q", "1 0 0 1 0 0 cm "), "Im0", true},
	} {
		name, ok := drawsOneXObject([]byte(tc.content))
		if name != tc.name || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.content, name, ok, tc.name, tc.ok)
		}
	}
}

func FuzzDrawsOneXObject(f *testing.F) {
	f.Add([]byte("q 1654 0 0 2339 0 0 cm /Im0 Do Q"))
	f.Add([]byte("BT /F1 12 Tf (x) Tj ET"))
	f.Add([]byte("%\r/"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, ok := drawsOneXObject(b)
		if ok && name == "" {
			t.Errorf("ok without a name for %q", b)
		}
	})
}

// BenchmarkBlankFinder times Find per page: on the duplex sample (2 of 5
// pages decoded, both blank) and on the batch sample (6 pages, none
// decoded: their stored size rules them out).
func BenchmarkBlankFinder(b *testing.B) {
	for _, name := range []string{"duplex_0001.pdf", "batch_0001.pdf"} {
		b.Run(name, func(b *testing.B) {
			p := filepath.Join(testenv.Corpus(b), name)
			var f BlankFinder
			pages := 0
			for b.Loop() {
				got, err := f.Find(context.Background(), p)
				if err != nil {
					b.Fatal(err)
				}
				pages = got.Pages
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*pages), "ms/page")
		})
	}
}
