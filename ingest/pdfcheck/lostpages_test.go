package pdfcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sohoa/sohoa/ingest/hostilepdf"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestLostPagesAreUnreadable: a page-tree entry that reads as nothing is
// not replaced by a blank page (pdfcpu's relaxed validation would), which
// would pass a damaged scan, or upload a repaired copy with a blank page
// where the real one was.
func TestLostPagesAreUnreadable(t *testing.T) {
	var nested []byte
	for _, c := range hostilepdf.Cases() {
		if c.Name == "page nested past the parser's limit" {
			nested = c.File()
		}
	}
	if nested == nil {
		t.Fatal("hostilepdf has no nested-page case")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "nested.pdf")
	if err := os.WriteFile(f, nested, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]func(t *testing.T) string{
		"nested": func(*testing.T) string { return f },
		// qpdf's bad2.pdf: no startxref; pdfcpu's reconstruction misses
		// the one page, and the rewritten copy had a blank A4 page instead.
		"qpdf bad2": func(t *testing.T) string { return filepath.Join(testenv.Wild(t), "bad2.pdf") },
	} {
		t.Run(name, func(t *testing.T) {
			src := src(t)
			r, err := (&Checker{}).Check(context.Background(), src, filepath.Join(dir, "repaired.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			if r.Reason != reason.Unreadable || !strings.Contains(r.Detail, "page tree: 1 pages missing") {
				t.Errorf("%s: %+v, want unreadable: page tree", filepath.Base(src), r)
			}
		})
	}
}
