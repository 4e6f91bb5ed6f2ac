package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/sandbox"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// BenchmarkOverhead checks the corpus samples (and reads the first page's
// receipt of the valid ones, as the daemon does for a named scan) in
// process and through the parser process; the difference per file is the
// cost of isolation. Reported: ns per file.
func BenchmarkOverhead(b *testing.B) {
	files, err := filepath.Glob(filepath.Join(testenv.Corpus(b), "*.pdf"))
	if err != nil || len(files) == 0 {
		b.Fatalf("corpus samples: %v", err)
	}
	pool := newPool(b, sandbox.Limits{})
	for _, bc := range []struct {
		name     string
		check    ingest.Checker
		barcodes ingest.BarcodeReader
	}{
		{"in-process", &pdfcheck.Checker{}, &barcode.Reader{}},
		{"isolated", pool, pool},
	} {
		for _, withBarcodes := range []bool{false, true} {
			name := bc.name + "/check"
			if withBarcodes {
				name += "+page1"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					for _, f := range files {
						r, err := bc.check.Check(ctx, f, "")
						if err != nil {
							b.Fatal(err)
						}
						if withBarcodes && r.Reason == "" {
							if _, err := bc.barcodes.ReadFirst(ctx, f, 1); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
			})
		}
	}
}

// BenchmarkRoundTrip is the fixed cost of one request to the parser
// process: checking an empty file, which stops at its size.
func BenchmarkRoundTrip(b *testing.B) {
	empty := filepath.Join(testenv.Corpus(b), "empty 000.00.12.H57-200322-0004.pdf")
	pool := newPool(b, sandbox.Limits{})
	for _, bc := range []struct {
		name  string
		check ingest.Checker
	}{{"in-process", &pdfcheck.Checker{}}, {"isolated", pool}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if r, err := bc.check.Check(context.Background(), empty, ""); err != nil || r.Reason != "empty" {
					b.Fatalf("%+v, %v", r, err)
				}
			}
		})
	}
}

// BenchmarkStart is the cost of a request that starts the parser process
// (the first after a minute idle, or after a kill), stopping it included.
func BenchmarkStart(b *testing.B) {
	empty := filepath.Join(testenv.Corpus(b), "empty 000.00.12.H57-200322-0004.pdf")
	for b.Loop() {
		p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}})
		if err != nil {
			b.Fatal(err)
		}
		if r, err := p.Check(context.Background(), empty, ""); err != nil || r.Reason != "empty" {
			b.Fatalf("%+v, %v", r, err)
		}
		p.Close()
	}
}
