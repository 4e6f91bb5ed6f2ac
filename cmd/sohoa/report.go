package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/metrics"
	"github.com/sohoa/sohoa/metrics/report"
	"github.com/sohoa/sohoa/metrics/report/xlsx"
)

// cmdReport handles `sohoa report merge [--format table|csv|xlsx] [-o FILE] FILE.csv...`,
// the town's table from the wards' report files, `sohoa report --prometheus
// URL ...` the town's table from Prometheus (cmdPromReport), and otherwise
// this ward's own report (cmdWardReport).
func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if promReportArg(args) {
		return cmdPromReport(ctx, args, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "merge" {
		return cmdWardReport(ctx, args, stdout, stderr)
	}
	const synopsis = "sohoa report merge [--format table|csv|xlsx] [-o FILE] WARD.csv..."
	fs := flag.NewFlagSet("report merge", flag.ContinueOnError)
	format := fs.String("format", "table", "table | csv | xlsx")
	out := fs.String("o", "", "output `FILE` (standard output if empty; required for xlsx)")
	title := fs.String("title", reportTitle, "title line of the xlsx annex")
	period := fs.String("period", "", "period line of the xlsx annex, e.g. \"Từ ngày 16/12/2019 đến ngày 18/3/2020\"")
	if code, ok := parseFlags(fs, interleave(args[1:], "format", "o", "title", "period"), synopsis, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 || (*format == "xlsx" && *out == "") {
		fmt.Fprintln(stderr, "usage:", synopsis)
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

// cmdWardReport prints this ward's row of the town's table:
// `sohoa report --from DAY --to DAY | --month YYYY-MM [--format table|csv|xlsx] [-o FILE]`.
func cmdWardReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa report [-config FILE] [--from YYYY-MM-DD --to YYYY-MM-DD | --month YYYY-MM] [--format table|csv|xlsx] [-o FILE]\n  (no period: the current month)\n  the town's table from Prometheus: sohoa report --prometheus URL --help"
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the daemon's config `file` (ward, data_dir); else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	fromS := fs.String("from", "", "first `day` of the period, YYYY-MM-DD (Vietnam time)")
	toS := fs.String("to", "", "last `day` of the period, YYYY-MM-DD, included")
	monthS := fs.String("month", "", "the calendar `month` YYYY-MM as the period")
	format := fs.String("format", "table", "table | csv | xlsx")
	out := fs.String("o", "", "output `FILE` (standard output if empty; required for xlsx)")
	title := fs.String("title", reportTitle, "title line of the xlsx annex")
	if code, ok := parseFlags(fs, interleave(args, "config", "from", "to", "month", "format", "o", "title"), synopsis, stdout, stderr); !ok {
		return code
	}
	from, to, err := period(*fromS, *toS, *monthS, time.Now())
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err == nil && *format == "xlsx" && *out == "" {
		err = errors.New("--format xlsx needs -o FILE")
	}
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		fmt.Fprintln(stderr, "usage:", synopsis)
		return 2
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		return 2
	}
	var res admin.ReportResult
	err = withAdmin(cfg.DataDir, stderr,
		func(c *admin.Client) (err error) { res, err = c.Report(ctx, from, to); return err },
		func(st *store.Store) (err error) {
			res, err = admin.Report(st, cfg.Ward.Code, cfg.Ward.Name, from, to, time.Now())
			return err
		})
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		return 1
	}
	if n := len(res.Foreign); n > 0 {
		list := strings.Join(res.Foreign[:min(n, 10)], ", ")
		if n > 10 {
			list += ", …"
		}
		fmt.Fprintf(stderr, "sohoa report: %d dossiers of other agencies are not counted: %s\n", n, list)
	}
	p := fmt.Sprintf("Từ ngày %s đến ngày %s", from.Format("2/1/2006"), to.Format("2/1/2006"))
	if err := writeReport(stdout, *format, *out, *title, p, []report.Row{res.Row}); err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		if errors.Is(err, errFormat) {
			return 2
		}
		return 1
	}
	return 0
}

// period reads the report's days: --from and --to, or --month, or with
// none of them the month of now (Vietnam time).
func period(from, to, month string, now time.Time) (first, last time.Time, err error) {
	switch {
	case from == "" && to == "" && month == "":
		first, last = metrics.Month(now.In(dossier.ICT()), 0)
		return first, last, nil
	case month != "" && (from != "" || to != ""):
		return first, last, errors.New("give --month or --from and --to, not both")
	case month != "":
		first, err = time.ParseInLocation("2006-01", month, dossier.ICT())
		if err != nil {
			return first, last, fmt.Errorf("--month %q is not YYYY-MM", month)
		}
		first, last = metrics.Month(first, 0)
		return first, last, nil
	case from == "" || to == "":
		return first, last, errors.New("give --from and --to, or --month")
	}
	for _, d := range []struct {
		flag, value string
		t           *time.Time
	}{{"--from", from, &first}, {"--to", to, &last}} {
		if *d.t, err = time.ParseInLocation(time.DateOnly, d.value, dossier.ICT()); err != nil {
			return first, last, fmt.Errorf("%s %q is not YYYY-MM-DD", d.flag, d.value)
		}
	}
	if last.Before(first) {
		return first, last, fmt.Errorf("--to %s is before --from %s", to, from)
	}
	return first, last, nil
}

const reportTitle = "BẢNG TỔNG HỢP TÌNH HÌNH TIẾP NHẬN VÀ SỐ HÓA HỒ SƠ"

var errFormat = errors.New("unknown format")

// writeReport writes rows as a table, CSV or XLSX annex, to out or, when
// out is empty, to stdout.
func writeReport(stdout io.Writer, format, out, title, period string, rows []report.Row) error {
	var buf bytes.Buffer
	var err error
	switch format {
	case "table":
		err = report.WriteTable(&buf, rows)
	case "csv":
		err = report.WriteCSV(&buf, rows)
	case "xlsx":
		err = xlsx.Write(&buf, title, period, rows)
	default:
		return fmt.Errorf("%w %q (table, csv or xlsx)", errFormat, format)
	}
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(filepath.Clean(out), buf.Bytes(), 0o644)
}
