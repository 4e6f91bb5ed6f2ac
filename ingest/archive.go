package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/store"
)

// Recover puts the data dir in order after a stop or a crash, before the
// inbox is watched: it removes unfinished spool copies and copies that no
// record refers to (their inbox file is still there and will be taken
// again), and finishes moving uploaded scans to the archive.
func (in *Ingester) Recover(ctx context.Context) error {
	entries, err := os.ReadDir(in.spool)
	if err != nil {
		return fmt.Errorf("read spool: %w", err)
	}
	removed, archived := 0, 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := e.Name()
		p := filepath.Join(in.spool, name)
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(p)
			removed++
			continue
		}
		sha := spoolSHA(name)
		sc, err := in.cfg.Store.Scan(sha)
		switch {
		case errors.Is(err, store.ErrNotFound):
			os.Remove(p)
			removed++
		case err != nil:
			return err
		case sc.State == store.Rejected:
			os.Remove(p)
			removed++
		case sc.State == store.Uploaded || sc.State == store.Split:
			if err := in.Archive(sha); err != nil {
				return err
			}
			archived++
		case sc.State == store.Waiting && sc.Batch != "" && !sc.Settled:
			// Pages of a split batch before its first receipt, recorded
			// but not yet put where staff see them.
			if err := in.placeHeld(sc, in.cfg.Logger); err != nil {
				return err
			}
		}
	}
	if removed+archived > 0 {
		in.cfg.Logger.Info("spool recovered", "removed", removed, "archived", archived)
	}
	// Notes whose write was cut short leave a hidden temporary file in the
	// staff folders, which nothing else ever looks at.
	for _, folder := range []string{in.cfg.Errors, in.cfg.Waiting} {
		if _, err := atomicfile.RemoveTemps(filepath.Join(in.cfg.Inbox, folder)); err != nil {
			in.cfg.Logger.Warn("cannot remove an unfinished note", "folder", folder, "err", err)
		}
	}
	return nil
}

// Archive moves an uploaded scan's copies from the spool to the archive. It
// is idempotent and needs no sync: if a crash undoes the rename, the copy is
// back in the spool and Recover moves it again.
//
// The scan's own copy is sealed first (atomicfile.Seal): taken by a hard
// link, it may share its inode with the inbox file that a program still
// has open for writing. The archive then holds the recorded bytes, which
// nothing can change any more; if they were changed already, the file is
// archived as <sha>.changed.pdf, logged, and the archive holds no file
// under the recorded content's name (the sinks never deliver such bytes).
func (in *Ingester) Archive(sha string) error {
	for _, src := range []string{in.SpoolPath(sha, false), in.SpoolPath(sha, true), in.TrimmedPath(sha)} {
		dst := filepath.Join(in.archive, filepath.Base(src))
		if src == in.SpoolPath(sha, false) {
			err := atomicfile.Seal(context.Background(), src, sha)
			switch {
			case errors.Is(err, atomicfile.ErrChanged):
				in.cfg.Logger.Warn("a scan's file was written into after it was taken; archived under another name",
					"sha256", sha, "archived_as", sha+".changed.pdf", "err", err)
				dst = filepath.Join(in.archive, sha+".changed.pdf")
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("archive %s: %w", sha, err)
			}
		}
		if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("archive %s: %w", sha, err)
		}
	}
	return nil
}

// Prune deletes archived copies of scans uploaded more than retention ago.
// The records stay: the counts and the report do not depend on the files.
func (in *Ingester) Prune(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	entries, err := os.ReadDir(in.archive)
	if err != nil {
		return 0, fmt.Errorf("read archive: %w", err)
	}
	cutoff := in.cfg.Now().Add(-retention)
	n := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		sha := spoolSHA(e.Name())
		sc, err := in.cfg.Store.Scan(sha)
		if err != nil || sc.State != store.Uploaded || sc.Uploaded.After(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(in.archive, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// spoolSHA returns the SHA-256 a spool or archive file name carries:
// "<sha>.pdf", "<sha>.repaired.pdf", "<sha>.trimmed.pdf".
func spoolSHA(name string) string {
	sha, _, _ := strings.Cut(name, ".")
	return sha
}
