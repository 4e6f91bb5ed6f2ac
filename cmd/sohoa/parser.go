package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/sandbox"
)

// parserCommand is the internal subcommand the parser process runs: not in
// the usage, not for people.
const parserCommand = "internal-parser"

// cmdParser is the parser process (see ingest/sandbox): requests on stdin,
// answers on stdout.
func cmdParser(stderr io.Writer) int {
	if err := sandbox.ServeStdio(); err != nil {
		fmt.Fprintln(stderr, "sohoa:", err)
		return 1
	}
	return 0
}

// parsers returns the checker, which also finds a valid file's blank pages
// in the same parse when pages.drop_blank is set, and the receipt reader
// (nil when link.barcodes is off) for cfg: in parser processes of this
// binary when check.isolate is set, else in this process. stop ends the
// parser processes. There is no separate blank page finder: a search that
// failed inside the check is not tried again, and the pages are kept.
func parsers(cfg config.Config, g *dossier.Grammar, log *slog.Logger) (c ingest.Checker, r ingest.BarcodeReader, stop func(), err error) {
	limits := pdfcheck.Limits{MinDPI: cfg.Check.MinDPI, MaxBytes: int64(cfg.Check.MaxBytes), MaxTime: time.Duration(cfg.Check.Timeout),
		RequireColor: cfg.Check.RequireColor}
	blanks := barcode.BlankFinder{White: uint8(cfg.Pages.BlankWhite*255/100 + 0.5), MaxInk: cfg.Pages.BlankMaxInk / 100}
	if !cfg.Check.Isolate {
		chk := &pdfcheck.Checker{Limits: limits}
		if cfg.Pages.DropBlank {
			chk.Blanks = &blanks
		}
		return chk, barcodeReader(cfg.Link.Barcodes, g), func() {}, nil
	}
	// /proc/self/exe is this very binary even after an upgrade replaced
	// the file: the parser always speaks this daemon's protocol.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, nil, nil, fmt.Errorf("check.isolate: find own binary: %w", err)
		}
	}
	p, err := sandbox.New(sandbox.Config{
		Command: []string{exe, parserCommand},
		Workers: parserCount(cfg.Check.Parsers, cfg.Watch.Workers),
		Check:   limits,
		Pattern: cfg.Link.Pattern,
		Blanks:  blanks,
		// One parse for the check and the blank pages.
		CheckBlanks: cfg.Pages.DropBlank,
		Limits: sandbox.Limits{Memory: int64(cfg.Check.ParserMemory), CPU: time.Duration(cfg.Check.ParserCPU),
			Timeout: time.Duration(cfg.Check.Timeout)},
		Logger: log.With("component", "parser"),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if cfg.Link.Barcodes != "off" {
		r = p
	}
	return p, r, func() { p.Close() }, nil
}

// parserCount is how many parser processes run at once: as configured, or
// one a watch worker, so that the receipts of files taken at once are read
// at once. (One fewer than the CPUs was tried: on two cores it halved the
// default barcodes: always mode's speed, receipt reading being the parsers'
// work.) Checks run one at a time whatever the count (sandbox.Config.Overlap).
func parserCount(configured, workers int) int {
	if configured > 0 {
		return configured
	}
	return workers
}
