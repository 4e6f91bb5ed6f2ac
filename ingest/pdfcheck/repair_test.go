package pdfcheck

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestRepairedPassesQpdf: every repaired copy, of the corpus's SANE scan,
// of generated SANE-style files and of files with bytes before their
// header, passes `qpdf --check` with no
// warning: a /Size that is not the highest object number plus one is one.
func TestRepairedPassesQpdf(t *testing.T) {
	dir := t.TempDir()
	var srcs []string
	for _, s := range testenv.Expected(t) {
		srcs = append(srcs, filepath.Join(testenv.Corpus(t), s.File))
	}
	scan := testPage{box: a4, images: [][2]int{{1654, 2339}}}
	form := testPage{box: a4, inForm: true, images: [][2]int{{1654, 2339}}}
	for i, pages := range [][]testPage{{scan}, {scan, scan, scan}, {form, scan}} {
		p := filepath.Join(dir, "generated-"+string(rune('a'+i))+".pdf")
		if err := os.WriteFile(p, buildPDF(pages, zeroXref), 0o600); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
	}
	// Bytes before the header: the offsets count from it. (qpdf's own
	// leading-junk.pdf was rewritten with a page's content stream read from
	// the wrong place.)
	for i, b := range [][]byte{buildPDF([]testPage{scan}, intact), buildPDF([]testPage{scan, scan}, zeroXref)} {
		p := filepath.Join(dir, "junk-"+string(rune('a'+i))+".pdf")
		if err := os.WriteFile(p, append([]byte("scanner junk\n\n"), b...), 0o600); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, p)
	}
	srcs = append(srcs, filepath.Join(testenv.Wild(t), "leading-junk.pdf"))
	c := testChecker()
	repaired := 0
	for i, src := range srcs {
		dst := filepath.Join(dir, "repaired-"+string(rune('a'+i))+".pdf")
		res, err := c.Check(context.Background(), src, dst)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Repaired {
			continue
		}
		repaired++
		testenv.QpdfClean(t, dst)
	}
	if repaired < 7 {
		t.Fatalf("%d files repaired, want the SANE sample, the generated ones and those with leading junk", repaired)
	}
}
