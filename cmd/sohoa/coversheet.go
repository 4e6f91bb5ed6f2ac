package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sohoa/sohoa/ingest/coversheet"
	"github.com/sohoa/sohoa/ingest/dossier"
)

// cmdCoversheet prints cover sheets for counters whose receipts carry no
// barcode: `sohoa coversheet CODE... -o FILE.pdf`.
func cmdCoversheet(_ context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa coversheet [-config FILE] CODE... -o FILE.pdf"
	fs := flag.NewFlagSet("coversheet", flag.ContinueOnError)
	out := fs.String("o", "", "output `FILE.pdf` (required)")
	cfgPath := fs.String("config", "", "config `file` whose link.pattern the codes must match; else $SOHOA_CONFIG, "+systemConfig+" or the strict grammar")
	if code, ok := parseFlags(fs, interleave(args, "o", "config"), synopsis, stdout, stderr); !ok {
		return code
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage:", synopsis)
		return 2
	}
	_, g, err := loadGrammar(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa coversheet:", err)
		return 2
	}
	var codes []string
	for _, c := range fs.Args() {
		if !g.Valid(c) {
			fmt.Fprintf(stderr, "sohoa coversheet: %q is not a dossier code\n", c)
			return 2
		}
		codes = append(codes, dossier.Canonical(c))
	}
	var buf bytes.Buffer
	if err := coversheet.Write(&buf, codes); err != nil {
		fmt.Fprintln(stderr, "sohoa coversheet:", err)
		return 1
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintln(stderr, "sohoa coversheet:", err)
		return 1
	}
	return 0
}
