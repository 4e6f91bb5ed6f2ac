package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
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
// back in the spool and Recover moves it again. Once a scan is uploaded,
// the files of its dossiers that were rejected before leave the errors
// folder for the archive too (clearRejected).
func (in *Ingester) Archive(sha string) error {
	for _, src := range []string{in.SpoolPath(sha, false), in.SpoolPath(sha, true), in.TrimmedPath(sha)} {
		dst := filepath.Join(in.archive, filepath.Base(src))
		if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("archive %s: %w", sha, err)
		}
	}
	if sc, err := in.cfg.Store.Scan(sha); err == nil && sc.State == store.Uploaded {
		if err := in.clearRejected(sc); err != nil {
			in.cfg.Logger.Warn("cannot move the dossier's rejected files out of the errors folder", "sha256", sha, "err", err)
		}
	}
	return nil
}

// rejectedDir is where, under the archive, rejected files go once their
// dossier was scanned again and uploaded.
const rejectedDir = "rejected"

// clearRejected moves the files in the errors folder that are about a
// dossier of up (an uploaded scan) — by their record, else by the code in
// their name — with their notes, to the archive's rejected folder: the
// dossier was scanned again, and the errors folder shows only what is still
// to do. Each move is logged; a moved file's time is set to when it was
// moved, from which Prune counts its retention.
func (in *Ingester) clearRejected(up store.Scan) error {
	if len(up.Dossiers) == 0 {
		return nil
	}
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return err
	}
	defer root.Close()
	in.moving.Lock()
	defer in.moving.Unlock()
	dir, names, err := noted(root, in.cfg.Errors)
	if err != nil || len(names) == 0 {
		return err
	}
	defer dir.Close()
	about := map[string]store.Scan{} // the last scan placed at each name
	err = in.cfg.Store.Scans(func(sc store.Scan) bool {
		if sc.State == store.Rejected && sc.Settled && path.Dir(sc.Place) == in.cfg.Errors {
			if was, ok := about[path.Base(sc.Place)]; !ok || sc.Seen.After(was.Seen) {
				about[path.Base(sc.Place)] = sc
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	to := filepath.Join(in.archive, rejectedDir)
	if err := os.MkdirAll(to, 0o750); err != nil {
		return err
	}
	for _, name := range names {
		codes := about[name].Dossiers
		if _, ok := about[name]; !ok {
			codes, _, _ = in.cfg.Linker.link(name)
		}
		if !slices.ContainsFunc(codes, func(c string) bool { return slices.Contains(up.Dossiers, c) }) {
			continue
		}
		dst := filepath.Join(to, name)
		for i := 2; fileExists(dst) || fileExists(dst+".txt"); i++ {
			dst = filepath.Join(to, fmt.Sprintf("%s (%d)", name, i))
		}
		if err := renameOut(dir, name, dst); err != nil {
			return fmt.Errorf("move %s/%s to the archive: %w", in.cfg.Errors, name, err)
		}
		if err := renameOut(dir, name+".txt", dst+".txt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("move the note of %s/%s to the archive: %w", in.cfg.Errors, name, err)
		}
		now := in.cfg.Now()
		if err := errors.Join(os.Chtimes(dst, now, now), os.Chtimes(dst+".txt", now, now)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			in.cfg.Logger.Warn("cannot date an archived rejected file; its retention counts from its own time", "file", dst, "err", err)
		}
		in.cfg.Logger.Info("a rejected file moved from the errors folder to the archive: its dossier was scanned again and uploaded",
			"file", in.cfg.Errors+"/"+name, "to", dst, "dossiers", codes, "uploaded_sha256", up.SHA256)
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
		if e.Name() == rejectedDir {
			m, err := pruneOlder(filepath.Join(in.archive, rejectedDir), cutoff)
			n += m
			if err != nil {
				return n, err
			}
			continue
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

// pruneOlder deletes the files in dir last modified before cutoff.
func pruneOlder(dir string, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read archive: %w", err)
	}
	n := 0
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				n++
			}
		}
	}
	return n, nil
}
