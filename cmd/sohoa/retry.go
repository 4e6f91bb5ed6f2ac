package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/store"
)

// cmdRetry puts parked uploads back in the queue.
func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa retry [-config FILE] [--restart] (--all | --dossier CODE | SHA256-PREFIX)"
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the daemon's config `file` (for data_dir); else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	all := fs.Bool("all", false, "every parked upload")
	code := fs.String("dossier", "", "the parked uploads of one dossier `code`")
	restart := fs.Bool("restart", false, "a two-step upload starts again at its first request instead of resuming")
	if code, ok := parseFlags(fs, interleave(args, "config", "dossier"), synopsis, stdout, stderr); !ok {
		return code
	}
	req := admin.RetryRequest{All: *all, Dossier: *code, Restart: *restart}
	switch fs.NArg() {
	case 0:
	case 1:
		req.SHA256 = fs.Arg(0)
	default:
		fmt.Fprintln(stderr, "sohoa retry: give one SHA256 prefix")
		return 2
	}
	if _, err := req.Match(); err != nil {
		fmt.Fprintln(stderr, "sohoa retry:", err)
		fmt.Fprintln(stderr, "usage:", synopsis)
		return 2
	}
	cfg, err := loadConfig(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa retry:", err)
		return 2
	}
	var res admin.RetryResult
	direct := false
	err = withAdmin(cfg.DataDir, stderr,
		func(c *admin.Client) (err error) { res, err = c.Retry(ctx, req); return err },
		func(st *store.Store) (err error) { direct = true; res, err = admin.Retry(st, req); return err })
	if err != nil {
		fmt.Fprintln(stderr, "sohoa retry:", err)
		return 1
	}
	if res.Requeued == 0 { // exit 1, as for a prefix that matches nothing: nothing was done
		if req.All {
			fmt.Fprintln(stderr, "sohoa retry: no parked uploads")
		} else {
			fmt.Fprintln(stderr, "sohoa retry: no parked upload matches (see sohoa parked)")
		}
		return 1
	}
	for _, p := range res.Jobs {
		fmt.Fprintf(stdout, "requeued %s %s %s\n", short(p.SHA256), p.Dossier, oneLine(p.Name, 60))
	}
	if direct {
		fmt.Fprintf(stdout, "%d requeued; they upload when sohoa starts\n", res.Requeued)
	} else {
		fmt.Fprintf(stdout, "%d requeued\n", res.Requeued)
	}
	return 0
}
