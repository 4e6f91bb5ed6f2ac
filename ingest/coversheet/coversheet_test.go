package coversheet

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/testenv"
)

var codes = []string{"000.00.12.H57-200320-0001", "000.00.12.H57-210615-0042"}

// needFonts skips the test without the DejaVu fonts, or fails it under CI.
func needFonts(t *testing.T) {
	t.Helper()
	for _, f := range []string{DefaultFont, DefaultBoldFont} {
		testenv.NeedFile(t, f, "fonts-dejavu-core")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestRoundTrip prints cover sheets to PDF, rasterizes them as a scanner
// would see them at 200 dpi, wraps the pages as a scan, and reads the codes
// back: as they are, through JPEG with noise and a skew, and turned a
// quarter.
func TestRoundTrip(t *testing.T) {
	needFonts(t)
	testenv.NeedTool(t, "pdftoppm", "poppler-utils")
	testenv.NeedTool(t, "img2pdf", "img2pdf")
	testenv.NeedTool(t, "convert", "imagemagick")
	dir := t.TempDir()
	sheet := filepath.Join(dir, "sheet.pdf")
	var buf bytes.Buffer
	if err := Write(&buf, codes); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sheet, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "pdftoppm", "-r", "200", "-gray", "-png", sheet, filepath.Join(dir, "page"))
	raster := []string{filepath.Join(dir, "page-1.png"), filepath.Join(dir, "page-2.png")}

	tests := []struct {
		name    string
		convert []string // convert options from the raster to the scanned page; nil: the raster itself
		ext     string
	}{
		{"raster", nil, ".png"},
		{"jpeg_noise_skew", []string{"-background", "white", "-rotate", "1.5", "-attenuate", "0.4", "+noise", "Gaussian", "-quality", "50"}, ".jpg"},
		{"quarter_turn", []string{"-rotate", "90", "-quality", "75"}, ".jpg"},
		{"upside_down_bw", []string{"-rotate", "180", "-threshold", "60%", "-type", "bilevel"}, ".png"},
	}
	var r barcode.Reader
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := raster
			if tt.convert != nil {
				pages = nil
				for i, p := range raster {
					out := filepath.Join(dir, fmt.Sprintf("%s-%d%s", tt.name, i+1, tt.ext))
					run(t, "convert", append(append([]string{p}, tt.convert...), out)...)
					pages = append(pages, out)
				}
			}
			scan := filepath.Join(dir, tt.name+".pdf")
			run(t, "img2pdf", append([]string{"--imgsize", "200dpi", "-o", scan}, pages...)...)
			got, err := r.Read(context.Background(), scan)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(codes) {
				t.Fatalf("%d pages, want %d", len(got), len(codes))
			}
			for i, p := range got {
				var found []string
				for _, f := range p.Codes {
					found = append(found, f.Code)
				}
				if len(found) != 1 || found[0] != codes[i] {
					t.Errorf("page %d: %v, want %s (%s)", i+1, found, codes[i], p.Detail)
				}
				if p.Blank {
					t.Errorf("page %d: blank", i+1)
				}
			}
		})
	}
}

// TestContent checks the PDF itself: A4 pages, one per code, the code as
// text, the barcodes as lossless 1-bit images.
func TestContent(t *testing.T) {
	needFonts(t)
	var buf bytes.Buffer
	if err := Write(&buf, codes); err != nil {
		t.Fatal(err)
	}
	conf := pdfConfig()
	doc, err := pdfcpu.Read(bytes.NewReader(buf.Bytes()), conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.EnsurePageCount(); err != nil {
		t.Fatal(err)
	}
	if doc.PageCount != len(codes) {
		t.Fatalf("%d pages, want %d", doc.PageCount, len(codes))
	}
	for i := 1; i <= doc.PageCount; i++ {
		d, _, inh, err := doc.PageDict(i, true)
		if err != nil {
			t.Fatal(err)
		}
		if box := inh.MediaBox; box == nil || math.Abs(box.Width()-595.28) > 0.5 || math.Abs(box.Height()-841.89) > 0.5 {
			t.Errorf("page %d: MediaBox %v, want A4", i, inh.MediaBox)
		}
		content, err := pdfcpu.ExtractPageContent(doc, i)
		if err != nil {
			t.Fatal(err)
		}
		var cb bytes.Buffer
		cb.ReadFrom(content)
		if !strings.Contains(cb.String(), "("+codes[i-1]+") Tj") {
			t.Errorf("page %d: the code is not in the text", i)
		}
		xo, err := doc.DereferenceDict(inh.Resources["XObject"])
		if err != nil || xo == nil {
			t.Fatalf("page %d: no XObjects: %v (%v)", i, err, d)
		}
		for _, name := range []string{"QR", "Bar"} {
			sd, _, err := doc.DereferenceStreamDict(xo[name])
			if err != nil || sd == nil {
				t.Fatalf("page %d: no %s image: %v", i, name, err)
			}
			if bpc := sd.IntEntry("BitsPerComponent"); bpc == nil || *bpc != 1 {
				t.Errorf("page %d: %s image of %v bits per component, want 1", i, name, bpc)
			}
			if f := sd.FilterPipeline; len(f) != 1 || f[0].Name != "FlateDecode" {
				t.Errorf("page %d: %s image filters %v, want FlateDecode", i, name, f)
			}
			if v, ok := sd.Find("Interpolate"); ok && v == types.Boolean(true) {
				t.Errorf("page %d: %s image is interpolated", i, name)
			}
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		sheet Sheet
		codes []string
		want  string
	}{
		{"no codes", Sheet{}, nil, "no codes"},
		{"empty code", Sheet{}, []string{""}, "empty code"},
		{"not ASCII", Sheet{}, []string{"000.00.12.H57-200320-0001", "mã hồ sơ"}, "cannot be printed"},
		{"too long", Sheet{}, []string{strings.Repeat("1", 81)}, "longer than"},
		{"no font", Sheet{Font: filepath.Join(dir, "missing.ttf")}, codes, "fonts-dejavu-core"},
		{"not a font", Sheet{BoldFont: os.Args[0]}, codes, "font"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tt.sheet.Write(&buf, tt.codes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written", buf.Len())
			}
		})
	}
}

// TestNothingWrittenOutside checks that pdfcpu writes no configuration
// directory: the only output is the writer's.
func TestNothingWrittenOutside(t *testing.T) {
	needFonts(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	var buf bytes.Buffer
	if err := Write(&buf, codes[:1]); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(home); len(left) != 0 {
		t.Errorf("written under HOME: %v", left)
	}
}

// TestConcurrent writes sheets from several goroutines (run it under -race).
func TestConcurrent(t *testing.T) {
	needFonts(t)
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			var buf bytes.Buffer
			errs <- Write(&buf, []string{fmt.Sprintf("000.00.12.H57-200320-%04d", i+1)})
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
