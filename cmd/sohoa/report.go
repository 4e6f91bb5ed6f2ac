package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sohoa/sohoa/metrics/report"
)

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
