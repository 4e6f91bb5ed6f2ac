package pdfcheck

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestFormat: the archives' format findings on the corpus (img2pdf writes
// PDF 1.3; Ghostscript 1.7), and check.require_color rejecting grey scans.
func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"HS 000.00.12.H57-200320-0002 to khai.pdf", []string{FormatPDFVersion}},      // colour JPEG
		{"000.00.12.H57-200320-0001.pdf", []string{FormatNotColor, FormatPDFVersion}}, // grey
		{"scan_0005.pdf", []string{FormatNotColor, FormatPDFVersion}},                 // black and white, PDF 1.1
		{"scan_0006.pdf", []string{FormatNotColor}},                                   // Ghostscript's, PDF 1.7
	} {
		src := filepath.Join(testenv.Corpus(t), tt.file)
		res, err := (&Checker{}).Check(context.Background(), src, "")
		if err != nil || res.Reason != "" {
			t.Fatalf("%s: %v %s %s", tt.file, err, res.Reason, res.Detail)
		}
		if !slices.Equal(res.Format, tt.want) {
			t.Errorf("%s: format %v, want %v", tt.file, res.Format, tt.want)
		}
		strict, err := (&Checker{Limits: Limits{RequireColor: true}}).Check(context.Background(), src, "")
		if err != nil {
			t.Fatal(err)
		}
		if grey := slices.Contains(tt.want, FormatNotColor); grey != (strict.Reason == reason.NotColor) {
			t.Errorf("%s with require_color: %q (%s)", tt.file, strict.Reason, strict.Detail)
		}
	}
}
