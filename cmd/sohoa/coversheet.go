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
func cmdCoversheet(_ context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("coversheet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `FILE.pdf` (required)")
	cfgPath := fs.String("config", "", "config `file` whose link.pattern the codes must match; strict grammar if empty")
	if err := fs.Parse(interleave(args, "o", "config")); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: sohoa coversheet CODE... -o FILE.pdf")
		return 2
	}
	_, g, err := loadGrammar(*cfgPath)
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
