package barcode

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestSamples reads every sample of the project's corpus (testdata/corpus).
// Where the scan has receipt pages (said by expected.tsv's notes), each gives
// its dossier code; no other page gives a code (files linked by their names
// carry no barcode); only the duplex scan's back sides are blank.
func TestSamples(t *testing.T) {
	testenv.SkipUnderRace(t, "an accuracy sweep of the corpus, one file after the other (TestConcurrent races the reader)")
	// Pages that are receipts; expected.tsv's codes are theirs, in order.
	receipts := map[string][]int{
		"scan_0003.pdf":   {1},
		"scan_0004.pdf":   {1},
		"scan_0005.pdf":   {1},
		"scan_0006.pdf":   {1},
		"batch_0001.pdf":  {1, 3, 5},
		"duplex_0001.pdf": {1},
	}
	symbology := map[string]string{ // the only symbology on the receipt
		"scan_0004.pdf": "qr",
		"scan_0005.pdf": "code128",
	}
	blank := map[string][]int{"duplex_0001.pdf": {3, 5}}

	rows := testenv.Expected(t)
	pdfs, _ := filepath.Glob(filepath.Join(testenv.Corpus(t), "*.pdf"))
	if len(pdfs) != len(rows) {
		t.Errorf("%d PDFs in samples, %d rows in expected.tsv", len(pdfs), len(rows))
	}
	var r Reader
	for _, row := range rows {
		t.Run(row.File, func(t *testing.T) {
			start := time.Now()
			pages, err := r.Read(context.Background(), filepath.Join(testenv.Corpus(t), row.File))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d pages in %v", row.Note, len(pages), time.Since(start).Round(time.Millisecond))
			for _, p := range pages {
				t.Logf("page %d: image %v blank %v codes %+v %s", p.Index, p.Image, p.Blank, p.Codes, p.Detail)
			}
			if row.File == "lowres_0001.pdf" {
				return // 100 dpi: invalid anyway; what was found is logged above
			}
			if row.Verdict == "invalid" && len(pages) != 0 {
				t.Errorf("%d pages read from a file the checker rejects", len(pages))
			}
			want := map[int]string{}
			for i, n := range receipts[row.File] {
				want[n] = row.Codes[i]
			}
			if len(want) > 0 && len(pages) == 0 {
				t.Fatal("no pages")
			}
			for _, p := range pages {
				var got []string
				for _, f := range p.Codes {
					got = append(got, f.Code)
					if s := symbology[row.File]; s != "" && f.Symbology != s {
						t.Errorf("page %d: %s read as %s, want %s", p.Index, f.Code, f.Symbology, s)
					}
				}
				if w := want[p.Index]; w == "" && len(got) != 0 || w != "" && !slices.Equal(got, []string{w}) {
					t.Errorf("page %d: codes %v, want %q", p.Index, got, w)
				}
				if w := slices.Contains(blank[row.File], p.Index); p.Blank != w {
					t.Errorf("page %d: blank %v, want %v", p.Index, p.Blank, w)
				}
				if !p.Image || p.Detail != "" {
					t.Errorf("page %d: image %v, detail %q", p.Index, p.Image, p.Detail)
				}
			}
		})
	}
}

func TestReadFirstDecodesOnlyThosePages(t *testing.T) {
	r := &Reader{}
	pages, err := r.ReadFirst(context.Background(), filepath.Join(testenv.Corpus(t), "batch_0001.pdf"), 1)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, p := range pages {
		found += len(p.Codes)
	}
	if len(pages) != 6 || len(pages[0].Codes) != 1 || found != 1 {
		t.Errorf("ReadFirst(1) over the batch: %d pages, %d codes found; want 6 pages, the first receipt only", len(pages), found)
	}
}
