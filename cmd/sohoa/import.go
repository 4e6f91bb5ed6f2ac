package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/registry"
	"github.com/sohoa/sohoa/ingest/store"
)

// importFile is one export's good rows, ready to record.
type importFile struct {
	name string
	rows []dossier.Record
}

// cmdImport records the province's received-dossier exports in the
// registry: `sohoa import [-config FILE] [--skip-bad] FILE...`. Each file is
// parsed here (the daemon may not read the user's files) and recorded in one
// transaction, through the running daemon or, when none runs, in its
// database directly. A file with bad rows is not imported unless
// --skip-bad; another agency's codes are listed and left out.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const synopsis = "sohoa import [-config FILE] [--skip-bad] FILE.csv|FILE.xlsx..."
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "the daemon's config `file` (ward, link.pattern, data_dir); else $SOHOA_CONFIG, "+systemConfig+" or the embedded defaults")
	skipBad := fs.Bool("skip-bad", false, "import the good rows of a file that has bad rows")
	if code, ok := parseFlags(fs, interleave(args, "config"), synopsis, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage:", synopsis)
		return 2
	}
	cfg, g, err := loadGrammar(*cfgPath, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "sohoa import:", err)
		return 2
	}
	code := 0
	var files []importFile
	for _, p := range fs.Args() {
		rows, problems, err := parseExport(p, g, cfg.Ward.Code)
		if err != nil {
			fmt.Fprintf(stderr, "sohoa import: %s: %v\n", p, err)
			code = 1
			continue
		}
		bad := 0
		for _, pr := range problems {
			if pr.Foreign {
				fmt.Fprintf(stderr, "%s: line %d: %s: another agency's code, not imported\n", p, pr.Line, pr.Code)
				continue
			}
			bad++
			fmt.Fprintf(stderr, "%s: %s\n", p, pr)
		}
		if bad > 0 && !*skipBad {
			fmt.Fprintf(stderr, "%s: %d bad rows; nothing imported from this file (correct them, or use --skip-bad)\n", p, bad)
			code = 1
			continue
		}
		if bad > 0 {
			fmt.Fprintf(stderr, "%s: %d bad rows skipped\n", p, bad)
		}
		files = append(files, importFile{name: p, rows: rows})
	}
	if len(files) == 0 {
		return max(code, 1)
	}
	var stats []store.RegistryStats
	err = withAdmin(cfg.DataDir, stderr,
		func(c *admin.Client) error {
			for _, f := range files {
				st, err := c.Import(ctx, f.rows)
				if err != nil {
					return fmt.Errorf("%s: %w", f.name, err)
				}
				stats = append(stats, st)
			}
			return nil
		},
		func(st *store.Store) error {
			for _, f := range files {
				s, err := admin.Import(st, f.rows, time.Now())
				if err != nil {
					return fmt.Errorf("%s: %w", f.name, err)
				}
				stats = append(stats, s)
			}
			return nil
		})
	for i, s := range stats {
		fmt.Fprintf(stdout, "%s: %d rows: %d added, %d updated, %d unchanged\n",
			files[i].name, len(files[i].rows), s.Added, s.Updated, s.Unchanged)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sohoa import:", err)
		return 1
	}
	return code
}

func parseExport(path string, g *dossier.Grammar, ward string) ([]dossier.Record, []registry.Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return registry.Parse(f, filepath.Base(path), g, ward)
}
