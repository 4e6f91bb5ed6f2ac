package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
)

// cmdParked lists the uploads the provincial system refused for good.
func cmdParked(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parked", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the daemon's config `file` (for data_dir); else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if code, ok := parseFlags(fs, interleave(args, "config"), "sohoa parked [-config FILE] [--json]", stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "sohoa parked: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*cfgPath, stderr)
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
	// Reasons recorded before answers were redacted at the source may hold
	// a secret the province echoed: blank those this user can read.
	secrets := cfg.Upload.HTTP.Auth.AuthConfig().Secrets()
	for i := range list {
		list[i].Reason = string(province.RedactSecrets([]byte(list[i].Reason), secrets...))
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
