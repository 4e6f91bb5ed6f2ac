package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sohoa/sohoa/ingest/coversheet"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/metrics/report"
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

// cmdReport handles `sohoa report merge [--format table|csv|xlsx] [-o FILE] FILE.csv...`,
// the town's table from the wards' report files, and otherwise this ward's
// own report (cmdWardReport).
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "merge" {
		return cmdWardReport(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "table | csv | xlsx")
	out := fs.String("o", "", "output `FILE` (standard output if empty; required for xlsx)")
	title := fs.String("title", reportTitle, "title line of the xlsx annex")
	period := fs.String("period", "", "period line of the xlsx annex, e.g. \"Từ ngày 16/12/2019 đến ngày 18/3/2020\"")
	if err := fs.Parse(interleave(args[1:], "format", "o", "title", "period")); err != nil {
		return 2
	}
	if fs.NArg() == 0 || (*format == "xlsx" && *out == "") {
		fmt.Fprintln(stderr, "usage: sohoa report merge [--format table|csv|xlsx] [-o FILE] WARD.csv...")
		return 2
	}
	var readers []io.Reader
	for _, p := range fs.Args() {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(stderr, "sohoa report merge:", err)
			return 1
		}
		defer f.Close()
		readers = append(readers, f)
	}
	rows, err := report.Merge(readers...)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report merge:", err)
		return 1
	}
	if err := writeReport(stdout, *format, *out, *title, *period, rows); err != nil {
		fmt.Fprintln(stderr, "sohoa report merge:", err)
		if errors.Is(err, errFormat) {
			return 2
		}
		return 1
	}
	return 0
}

// interleave moves flags written after the positional arguments (as in
// `sohoa coversheet CODE -o x.pdf`) in front of them, for the flag package.
func interleave(args []string, valued ...string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		for _, v := range valued {
			if name == v && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, rest...)
}
