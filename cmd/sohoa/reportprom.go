package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/metrics/report/prom"
)

// promReportArg reports whether args ask for the town's report from
// Prometheus (--prometheus URL).
func promReportArg(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "prometheus" {
			return true
		}
	}
	return false
}

// cmdPromReport prints the town's table from the cohort metrics a Prometheus
// holds: `sohoa report --prometheus URL [--month YYYY-MM] [--http-config FILE]
// [--format table|csv|xlsx] [-o FILE]`.
func cmdPromReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa report --prometheus URL [--month YYYY-MM] [--http-config FILE] [--format table|csv|xlsx] [-o FILE]\n  (no month: the current month)"
	fs := flag.NewFlagSet("report --prometheus", flag.ContinueOnError)
	promURL := fs.String("prometheus", "", "the `URL` of the Prometheus holding the wards' metrics, e.g. https://prometheus.example:9090")
	httpCfg := fs.String("http-config", "", "a YAML `file` with tls: and auth: blocks as in sohoa.yaml's upload.http (CA, client certificate, bearer, basic, OAuth2)")
	monthS := fs.String("month", "", "the calendar `month` YYYY-MM (Vietnam time); default the current one")
	format := fs.String("format", "table", "table | csv | xlsx")
	out := fs.String("o", "", "output `FILE` (standard output if empty; required for xlsx)")
	title := fs.String("title", reportTitle, "title line of the xlsx annex")
	if code, ok := parseFlags(fs, interleave(args, "prometheus", "http-config", "month", "format", "o", "title"), synopsis, stdout, stderr); !ok {
		return code
	}
	now := time.Now()
	first, last, err := period("", "", *monthS, now)
	u, uerr := url.Parse(*promURL)
	switch {
	case err != nil:
	case uerr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		err = fmt.Errorf("--prometheus %q is not an http:// or https:// URL", *promURL)
	case u.User != nil:
		err = errors.New("--prometheus: put no credentials in the URL; give them in --http-config's auth: block")
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case *format == "xlsx" && *out == "":
		err = errors.New("--format xlsx needs -o FILE")
	}
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		fmt.Fprintln(stderr, "usage:", synopsis)
		return 2
	}
	hc, err := readHTTPConfig(*httpCfg)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		return 2
	}
	client, auth, err := province.New(hc, 0, 0)
	if err != nil {
		fmt.Fprintf(stderr, "sohoa report: %s: %v\n", *httpCfg, err)
		return 2
	}
	client.Timeout = 2 * time.Minute
	c := &prom.Client{URL: u, HTTP: client, Auth: auth}
	tab, err := c.Month(ctx, first, now)
	if len(tab.Missing) > 0 {
		fmt.Fprintf(stderr, "sohoa report: no %s figures in Prometheus for %d wards it knows: %s\n",
			first.Format("2006-01"), len(tab.Missing), strings.Join(tab.Missing, ", "))
	}
	if err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		return 1
	}
	p := fmt.Sprintf("Từ ngày %s đến ngày %s", first.Format("2/1/2006"), last.In(dossier.ICT()).Format("2/1/2006"))
	if err := writeReport(stdout, *format, *out, *title, p, tab.Rows); err != nil {
		fmt.Fprintln(stderr, "sohoa report:", err)
		if errors.Is(err, errFormat) {
			return 2
		}
		return 1
	}
	return 0
}

// readHTTPConfig reads --http-config: tls: and auth: as in sohoa.yaml's
// upload.http, every key checked; "": none (system CAs, no auth).
func readHTTPConfig(path string) (province.HTTPConfig, error) {
	var c province.HTTPConfig
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return c, fmt.Errorf("--http-config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
