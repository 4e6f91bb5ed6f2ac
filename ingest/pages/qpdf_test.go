package pages

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestOutputsPassQpdf: the parts of a batch and the copies without blank
// pages that sohoa writes, of the corpus's scans and of the SANE scan's
// repaired copy, pass `qpdf --check` with no warning.
func TestOutputsPassQpdf(t *testing.T) {
	dir := t.TempDir()
	repaired := filepath.Join(dir, "sane-repaired.pdf")
	res, err := (&pdfcheck.Checker{}).Check(context.Background(),
		filepath.Join(testenv.Corpus(t), "000.00.12.H57-200322-0001.pdf"), repaired)
	if err != nil || !res.Repaired {
		t.Fatalf("repair of the SANE sample: %+v %v", res, err)
	}
	corpus := func(name string) string { return filepath.Join(testenv.Corpus(t), name) }
	// qpdf decodes every stream: a few seconds a file on a loaded machine.
	for i, tt := range []struct {
		src   string
		pages []int
	}{
		{repaired, []int{1}},
		{corpus("000.00.12.H57-200322-0001.pdf"), []int{1}},
		{corpus("batch_0001.pdf"), []int{2, 3}},  // a part after the first receipt
		{corpus("duplex_0001.pdf"), []int{1, 3}}, // without the blank back sides
	} {
		dst := filepath.Join(dir, fmt.Sprintf("out-%d.pdf", i))
		if err := Extract(context.Background(), tt.src, dst, tt.pages); err != nil {
			t.Fatalf("%s pages %v: %v", tt.src, tt.pages, err)
		}
		testenv.QpdfClean(t, dst)
	}
}
