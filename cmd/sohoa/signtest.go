package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/sign"
	"github.com/sohoa/sohoa/ingest/sign/key"
)

// cmdSignTest signs a sample page with the configured key and verifies
// it, so that IT can try a token or a .p12 file at install: the PIN file,
// the library, the certificate and its dates. -o keeps the signed sample
// to open in a PDF reader. Exit 1 when signing or the check fails.
func cmdSignTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sign-test", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config `file` with the sign: section; else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	out := fs.String("o", "", "write the signed sample to this `file`")
	if code, ok := parseFlags(fs, args, "sohoa sign-test [-config FILE] [-o FILE.pdf]", stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "sohoa sign-test: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa sign-test:", err)
		return 2
	}
	if !cfg.Sign.Enabled {
		fmt.Fprintln(stdout, "signing is off (sign.enabled: false): uploads are not signed; the key below is tried anyway")
	}
	src := key.NewSource(cfg.Sign.KeyConfig())
	defer src.Close()
	k, err := src.Get()
	if err != nil {
		fmt.Fprintf(stderr, "sohoa sign-test: the key (%s): %v\n", cfg.Sign.Key, err)
		return 1
	}
	now := time.Now()
	s := &sign.Signer{Key: k.Signer, Chain: k.Chain, Name: cfg.Sign.SignerName}
	if cfg.Sign.TSAURL != "" {
		s.Timestamp = (&sign.TSA{URL: cfg.Sign.TSAURL}).Timestamp
	}
	signed, err := s.Sign(ctx, sign.Sample(), now)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa sign-test: sign the sample:", err)
		return 1
	}
	cert, err := sign.Verify(signed)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa sign-test: the signed sample does not verify:", err)
		return 1
	}
	name := cfg.Sign.SignerName
	if name == "" {
		name = cert.Subject.CommonName
	}
	level := "B-B, no timestamp"
	if s.Timestamp != nil {
		level = "B-T, timestamp from " + cfg.Sign.TSAURL
	}
	fmt.Fprintf(stdout, "signed and verified a sample page with the %s key (PAdES %s)\n", cfg.Sign.Key, level)
	fmt.Fprintf(stdout, "  certificate: %s\n  issued by:   %s\n  valid:       %s to %s\n  chain:       %d certificate(s)\n",
		cert.Subject, cert.Issuer, cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly), len(k.Chain))
	fmt.Fprintf(stdout, "  stamp:       %s\n", strings.Join(sign.StampLines(name, now), " / "))
	exit := 0
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		fmt.Fprintln(stdout, "  WARNING: the certificate is not valid now: the province will refuse these signatures")
		exit = 1
	}
	if *out != "" {
		if err := os.WriteFile(*out, signed, 0o644); err != nil {
			fmt.Fprintln(stderr, "sohoa sign-test:", err)
			return 1
		}
		fmt.Fprintf(stdout, "  written to:  %s\n", *out)
	}
	return exit
}
