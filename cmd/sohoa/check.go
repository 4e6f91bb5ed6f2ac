package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
)

// checkResult is one line of `sohoa check --json`.
type checkResult struct {
	File     string      `json:"file"`
	Valid    bool        `json:"valid"`
	Reason   reason.Code `json:"reason"`
	Detail   string      `json:"detail,omitempty"`
	Message  string      `json:"message_vi,omitempty"`
	Dossiers []string    `json:"dossiers"`
	FoundBy  string      `json:"found_by,omitempty"` // name, folder, qr or code128
	Parts    int         `json:"parts"`              // uploads it makes: one per dossier of a batch
	Hold     reason.Code `json:"hold,omitempty"`
	Pages    int         `json:"pages"`
	MinDPI   float64     `json:"min_dpi"`
	Repaired bool        `json:"repaired"`
	Flags    []string    `json:"flags"` // fonts, javascript, embedded_files: accepted, never run
	// Format holds the archives' format findings of the upload: not_color,
	// pdf_version (none when signing raises the version).
	Format []string `json:"format"`

	// BlankDropped counts the blank back sides left out of the upload.
	BlankDropped int `json:"blank_pages_dropped"`
	// HeldPages are the pages of a batch before its first receipt, which
	// wait for a person.
	HeldPages []int `json:"held_pages,omitempty"`
	// Sign is what signing at upload does with it when sign.enabled:
	// "signed" or "not_signable" (SignDetail says why); "" when off.
	Sign       string `json:"sign,omitempty"`
	SignDetail string `json:"sign_detail,omitempty"`
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa check [-config FILE] [--json] FILE...   (or sohoa check -config FILE: the configuration alone)"
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config `file` (limits, ward, code pattern); else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if code, ok := parseFlags(fs, args, synopsis, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 && *cfgPath == "" {
		fmt.Fprintln(stderr, "sohoa check: no files given\nusage:", synopsis)
		return 2
	}
	cfg, grammar, err := loadGrammar(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa check:", err)
		return 2
	}
	if fs.NArg() == 0 {
		// `sohoa check -config FILE`: check the configuration alone, and
		// that this user (the daemon's, when run as sohoa) can write the inbox.
		if err := cfg.InboxWritable(); err != nil {
			fmt.Fprintf(stderr, "sohoa check: %s: %v\n", *cfgPath, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *cfgPath)
		fmt.Fprintln(stdout, signingSummary(cfg.Sign))
		return showConfig(stdout, stderr, *cfgPath, cfg)
	}
	// A file that is not there is a mistake in the command, not an invalid scan.
	missing := false
	for _, file := range fs.Args() {
		if _, err := os.Lstat(file); errors.Is(err, iofs.ErrNotExist) {
			fmt.Fprintf(stderr, "sohoa check: %s: no such file\n", file)
			missing = true
		}
	}
	if missing {
		return 2
	}
	linker := &ingest.Linker{Grammar: grammar, Ward: cfg.Ward.Code, AcceptForeign: cfg.Link.AcceptForeign}
	checker, reader, stopParsers, err := parsers(cfg, grammar, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(stderr, "sohoa check:", err)
		return 1
	}
	defer stopParsers()
	tmp, err := os.MkdirTemp("", "sohoa-check-")
	if err != nil {
		fmt.Fprintln(stderr, "sohoa check:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	exit := 0
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for i, file := range fs.Args() {
		repaired := filepath.Join(tmp, fmt.Sprintf("%d.pdf", i))
		r := checkFile(ctx, checker, reader, cfg.Link.Barcodes == "unnamed", linker, file, repaired)
		if cfg.Sign.Enabled && r.Valid {
			if !r.Repaired {
				repaired = file
			}
			r.Sign, r.SignDetail = signVerdict(repaired)
			if r.Sign == "signed" { // the signature's update says PDF 1.7
				r.Format = slices.DeleteFunc(r.Format, func(f string) bool { return f == pdfcheck.FormatPDFVersion })
			}
		}
		if !r.Valid {
			exit = 1
		}
		if *asJSON {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(stderr, "sohoa check:", err)
				return 1
			}
			continue
		}
		fmt.Fprintln(stdout, r.line())
	}
	return exit
}

// checkFile validates and links one file as the daemon would: what it reads
// of the file, the daemon's Linker.Decide turns into its fate. b nil: no
// receipts are read (link.barcodes: off); skipNamed: not for named files.
func checkFile(ctx context.Context, c ingest.Checker, b ingest.BarcodeReader, skipNamed bool, l *ingest.Linker, file, repaired string) checkResult {
	r := checkResult{File: file, Dossiers: []string{}, Flags: []string{}, Format: []string{}}
	found := ingest.Findings{Path: file}
	info, err := os.Lstat(file)
	switch {
	case err != nil:
		found.Check = pdfcheck.Result{Reason: reason.Unreadable, Detail: err.Error()}
	case !info.Mode().IsRegular():
		found.Check = pdfcheck.Result{Reason: reason.NotRegular, Detail: "file type " + info.Mode().Type().String()}
	default:
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, err := c.Check(cctx, file, repaired)
		cancel()
		if err != nil {
			found.Check = pdfcheck.Result{Reason: reason.Unreadable, Detail: err.Error()}
			break
		}
		r.Pages, r.MinDPI, r.Repaired = res.Pages, res.MinDPI, res.Repaired
		r.Flags = append([]string{}, res.Flags...)
		r.Format = append([]string{}, res.Format...)
		if found, err = l.Examine(ctx, b, skipNamed, file, file, res); err != nil {
			found.Check.Reason, found.Check.Detail = reason.Unreadable, err.Error()
		}
	}
	fate := l.Decide(found)
	r.Reason, r.Detail = found.Check.Reason, found.Check.Detail
	r.Valid = r.Reason == ""
	if fate.Hold == "" {
		r.Dossiers, r.Parts, r.FoundBy = fate.Dossiers, max(1, len(fate.Dossiers)), fate.Via
		for _, p := range fate.Parts {
			if p.Code == "" {
				r.HeldPages = p.Pages
			}
		}
	} else {
		r.Hold = fate.Hold
		if r.Detail == "" {
			r.Detail = fate.HoldDetail
		}
	}
	r.BlankDropped = fate.BlankDropped() // none when rejected
	switch {
	case !r.Valid:
		r.Message = r.Reason.Vietnamese() + " " + r.Reason.Advice()
	case r.Hold != "":
		r.Message = r.Hold.Vietnamese() + " " + r.Hold.Advice()
	}
	return r
}

func (r checkResult) line() string {
	var b strings.Builder
	if r.Valid {
		fmt.Fprintf(&b, "valid    %s: pages %d, %.0f dpi", r.File, r.Pages, r.MinDPI)
		if r.Repaired {
			b.WriteString(", repaired")
		}
		if len(r.Flags) > 0 {
			fmt.Fprintf(&b, ", contains %s (not run)", strings.Join(r.Flags, ", "))
		}
		if r.BlankDropped > 0 {
			fmt.Fprintf(&b, ", %d blank pages dropped", r.BlankDropped)
		}
		if len(r.Format) > 0 {
			fmt.Fprintf(&b, ", format %s", strings.Join(r.Format, ", "))
		}
		switch r.Sign {
		case "signed":
			b.WriteString(", signed at upload")
		case "not_signable":
			fmt.Fprintf(&b, ", cannot be signed (%s): parked at upload", r.SignDetail)
		}
		if len(r.Dossiers) > 0 {
			fmt.Fprintf(&b, ", dossier %s (found by %s)", strings.Join(r.Dossiers, ","), r.FoundBy)
			if len(r.HeldPages) > 0 {
				fmt.Fprintf(&b, ", pages %v before the first receipt held (%s)", r.HeldPages, reason.BeforeReceipt)
			}
		} else {
			fmt.Fprintf(&b, ", not linked (%s)", r.Hold)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "invalid  %s: %s (%s)", r.File, r.Reason, r.Detail)
	return b.String()
}
