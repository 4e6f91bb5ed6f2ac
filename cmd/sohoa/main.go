// Command sohoa watches a one-stop counter's scanner folder, links each
// scanned PDF to its dossier, validates it, queues it durably and uploads it
// to the provincial system. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `sohoa: digitize one-stop counter scans.

Usage:
  sohoa run [-config FILE]            run the daemon
  sohoa check [-config FILE] [--json] FILE...
                                      validate and link files without a daemon;
                                      exit 1 if any file is invalid
  sohoa check -config FILE            check a configuration file
  sohoa parked [-config FILE] [--json]
                                      uploads the provincial system refused
                                      (a 4xx), waiting for IT
  sohoa retry [-config FILE] [--restart] (--all | --dossier CODE | SHA256-PREFIX)
                                      queue parked uploads again once the
                                      cause is fixed; exit 1 if none matches
  sohoa coversheet CODE... -o FILE.pdf
                                      A4 cover sheets (code as text, QR, Code 128)
                                      to scan on top of a dossier
  sohoa import [-config FILE] [--skip-bad] FILE...
                                      record the province's received-dossier
                                      exports (CSV, XLSX); exit 1 on bad rows
  sohoa report [-config FILE] [--from YYYY-MM-DD --to YYYY-MM-DD | --month YYYY-MM]
         [--format table|csv|xlsx] [-o FILE]
                                      this ward's row of the town's report
                                      (no period: the current month)
  sohoa report merge [--format table|csv|xlsx] [-o FILE] WARD.csv...
                                      the town's table from the wards' report files
  sohoa report --prometheus URL [--month YYYY-MM] [--http-config FILE] [--format table|csv|xlsx] [-o FILE]
                                      the town's table from the wards' metrics in Prometheus
  sohoa sign-test [-config FILE] [-o FILE.pdf]
                                      sign a sample page with the sign: key
                                      and verify it (a token's PIN, its dates)
  sohoa version                       print the version
  sohoa COMMAND --help                its flags and arguments

Without -config a command uses $SOHOA_CONFIG, else /etc/sohoa/sohoa.yaml if it
exists, else the embedded defaults (folders under ./var), and says which.
Exit status: 0 done, 1 failed (an invalid file for check, nothing matched for
retry), 2 a usage or configuration error (a file that does not exist).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code: 0 fine,
// 1 failure (or an invalid file for check, nothing to requeue for retry, or
// no daemon for parked and retry without a database), 2 usage or
// configuration error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "parked":
		return cmdParked(ctx, args[1:], stdout, stderr)
	case "retry":
		return cmdRetry(ctx, args[1:], stdout, stderr)
	case "coversheet":
		return cmdCoversheet(ctx, args[1:], stdout, stderr)
	case "import":
		return cmdImport(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(ctx, args[1:], stdout, stderr)
	case parserCommand:
		return cmdParser(stderr)
	case "sign-test":
		return cmdSignTest(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sohoa: unknown command %q\n\n%s", args[0], usage)
	return 2
}
