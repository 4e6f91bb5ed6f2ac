package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/store"
)

// cmdParked lists the uploads the provincial system refused for good.
func cmdParked(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parked", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the daemon's config `file` (for data_dir); embedded defaults if empty")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(interleave(args, "config")); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "sohoa parked: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa parked:", err)
		return 2
	}
	var list []admin.Parked
	err = withAdmin(cfg.DataDir, stderr,
		func(c *admin.Client) (err error) { list, err = c.Parked(ctx); return err },
		func(st *store.Store) error {
			jobs, err := st.Parked()
			for _, j := range jobs {
				list = append(list, admin.FromJob(j))
			}
			return err
		})
	if err != nil {
		fmt.Fprintln(stderr, "sohoa parked:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, p := range list {
			if err := enc.Encode(p); err != nil {
				return 1
			}
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no parked uploads")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHA256\tPARKED\tDOSSIER\tFILE\tREASON")
	for _, p := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", short(p.SHA256), p.Parked.Local().Format(time.DateTime),
			p.Dossier, oneLine(p.Name, 40), oneLine(p.Reason, 1000))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	fmt.Fprintf(stdout, "%d parked; after fixing the cause: sohoa retry (--all | --dossier CODE | SHA256-PREFIX)\n", len(list))
	return 0
}

// cmdRetry puts parked uploads back in the queue.
func cmdRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("retry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the daemon's config `file` (for data_dir); embedded defaults if empty")
	all := fs.Bool("all", false, "every parked upload")
	code := fs.String("dossier", "", "the parked uploads of one dossier `code`")
	restart := fs.Bool("restart", false, "a two-step upload starts again at its first request instead of resuming")
	if err := fs.Parse(interleave(args, "config", "dossier")); err != nil {
		return 2
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
		fmt.Fprintln(stderr, "usage: sohoa retry [-config FILE] [--restart] (--all | --dossier CODE | SHA256-PREFIX)")
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
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
	if res.Requeued == 0 {
		if req.All {
			fmt.Fprintln(stdout, "no parked uploads")
			return 0
		}
		fmt.Fprintln(stderr, "sohoa retry: no parked upload matches (see sohoa parked)")
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

// withAdmin runs viaDaemon with a client of the running daemon. When no
// daemon runs, nothing holds the database, so direct runs on the store
// opened here instead (only if the database exists: a wrong -config must
// not create an empty one).
func withAdmin(dataDir string, stderr io.Writer, viaDaemon func(*admin.Client) error, direct func(*store.Store) error) error {
	c, err := admin.Dial(dataDir)
	if err == nil {
		return viaDaemon(c)
	}
	if !errors.Is(err, admin.ErrNotRunning) {
		return err
	}
	db := filepath.Join(dataDir, "sohoa.db")
	if _, serr := os.Stat(db); errors.Is(serr, fs.ErrNotExist) {
		return fmt.Errorf("%w, and there is no database at %s (wrong -config?)", err, db)
	}
	st, serr := store.Open(db, time.Second)
	if serr != nil {
		return fmt.Errorf("%w, and its database cannot be opened: %w", err, serr)
	}
	fmt.Fprintf(stderr, "sohoa is not running; using its database %s directly\n", db)
	err = direct(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return err
}

func short(sha string) string { return sha[:min(12, len(sha))] }

// oneLine makes s safe for one table cell: no control characters, at most
// n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
