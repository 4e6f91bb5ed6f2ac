package pdfcheck

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// The blank pages a check finds in its own parse are the ones the blank
// page finder finds reading the file (the repaired copy, for a repaired
// file) by itself; an invalid file is not searched.
func TestBlanksInTheSameParse(t *testing.T) {
	ctx := context.Background()
	finder := &barcode.BlankFinder{}
	c := &Checker{Blanks: finder}
	sawBlank := false
	for _, s := range testenv.Expected(t) {
		t.Run(s.File, func(t *testing.T) {
			src := filepath.Join(testenv.Corpus(t), s.File)
			dst := filepath.Join(t.TempDir(), "repaired.pdf")
			res, err := c.Check(ctx, src, dst)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := testChecker().Check(ctx, src, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != plain.Reason || res.Pages != plain.Pages || res.Repaired != plain.Repaired {
				t.Fatalf("with blanks %+v, without %+v: the verdict changed", res, plain)
			}
			if res.Reason != "" {
				if res.BlankSearched || res.Blank != nil {
					t.Fatalf("invalid file searched for blank pages: %+v", res)
				}
				return
			}
			if res.Pages < 2 {
				if res.BlankSearched || res.Blank != nil {
					t.Fatalf("a file of one page was searched: %+v", res)
				}
				return
			}
			if !res.BlankSearched {
				t.Fatalf("valid file not searched: %+v", res)
			}
			alone := src
			if res.Repaired {
				alone = dst
			}
			want, err := finder.Find(ctx, alone)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Blank, want.Blank) {
				t.Fatalf("blank pages %v in the check, %v by the finder alone", res.Blank, want.Blank)
			}
			sawBlank = sawBlank || len(res.Blank) > 0
		})
	}
	if !sawBlank {
		t.Error("no sample had a blank page: the duplex sample should")
	}
}

type panicFinder struct{}

func (panicFinder) BlankPages(context.Context, *model.Context) ([]int, error) { panic("finder bug") }

type slowFinder struct{}

func (slowFinder) BlankPages(ctx context.Context, _ *model.Context) ([]int, error) {
	<-ctx.Done()
	return []int{1}, ctx.Err()
}

type failingFinder struct{}

func (failingFinder) BlankPages(context.Context, *model.Context) ([]int, error) {
	return []int{1}, errors.New("cannot decode")
}

// A blank page finder that panics, fails or runs out of its time never
// changes a file's verdict, and finds no blank page.
func TestBlankFinderFailureKeepsTheVerdict(t *testing.T) {
	src := filepath.Join(testenv.Corpus(t), "duplex_0001.pdf")
	for name, f := range map[string]BlankFinder{"panic": panicFinder{}, "slow": slowFinder{}, "error": failingFinder{}} {
		t.Run(name, func(t *testing.T) {
			c := &Checker{Limits: Limits{BlankTime: 50 * time.Millisecond}, Blanks: f}
			res, err := c.Check(context.Background(), src, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != "" || res.Pages == 0 {
				t.Fatalf("verdict %+v, want valid", res)
			}
			if res.BlankSearched || res.Blank != nil {
				t.Fatalf("blank pages %v (searched %v) from a finder that failed", res.Blank, res.BlankSearched)
			}
		})
	}
}
