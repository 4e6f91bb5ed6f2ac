package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/store"
)

// Recover puts the data dir in order after a stop or a crash, before the
// inbox is watched: it removes unfinished spool copies (their inbox file is
// still there and will be taken again), gives spool copies that no record
// refers to back to the inbox (see recoverOrphans), and finishes moving
// uploaded scans to the archive.
func (in *Ingester) Recover(ctx context.Context) error {
	entries, err := os.ReadDir(in.spool)
	if err != nil {
		return fmt.Errorf("read spool: %w", err)
	}
	removed, archived := 0, 0
	orphans := map[string][]string{} // content SHA-256 -> its spool files with no record
	for _, e := range entries {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := e.Name()
		p := filepath.Join(in.spool, name)
		if strings.HasPrefix(name, ".") { // an unfinished take or copy
			os.Remove(p)
			removed++
			continue
		}
		sha := spoolSHA(name)
		if len(sha) != sha256.Size*2 {
			continue // not sohoa's
		}
		sc, err := in.cfg.Store.Scan(sha)
		switch {
		case errors.Is(err, store.ErrNotFound):
			orphans[sha] = append(orphans[sha], name)
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
	returned, dropped, err := in.recoverOrphans(ctx, orphans)
	if err != nil {
		return err
	}
	removed += dropped
	if removed+archived+returned > 0 {
		in.cfg.Logger.Info("spool recovered", "removed", removed, "archived", archived, "returned_to_inbox", returned)
	}
	// Notes whose write was cut short leave a hidden temporary file in the
	// staff folders, which nothing else ever looks at.
	// Through the inbox opened as a root: a staff folder that is a link out
	// of the inbox is not followed (staffDir replaces it).
	inbox, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return fmt.Errorf("open the inbox: %w", err)
	}
	defer inbox.Close()
	for _, folder := range []string{in.cfg.Errors, in.cfg.Waiting} {
		if fi, err := inbox.Lstat(folder); err != nil || !fi.IsDir() {
			continue // missing, or not a real folder
		}
		dir, err := inbox.OpenRoot(folder)
		if err == nil {
			_, err = atomicfile.RemoveTempsIn(dir)
			dir.Close()
		}
		if err != nil {
			in.cfg.Logger.Warn("cannot remove an unfinished note", "folder", folder, "err", err)
		}
	}
	return nil
}

// ArchiveUploaded archives a scan's copies (see Archive) if it is uploaded,
// one content at a time with Ingest: the same content saved meanwhile for
// another dossier has its copies brought back from the archive and the scan
// queued again, and they are not archived under it.
func (in *Ingester) ArchiveUploaded(sha string) error {
	defer in.contents.lock(sha)()
	sc, err := in.cfg.Store.Scan(sha)
	if err != nil || sc.State != store.Uploaded {
		return err
	}
	return in.Archive(sha)
}

// Archive moves an uploaded scan's copies from the spool to the archive. It
// is idempotent and needs no sync: if a crash undoes the rename, the copy is
// back in the spool and Recover moves it again. Once a scan is uploaded,
// the files of its dossiers that were rejected before leave the errors
// folder for the archive too (clearRejected).
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

// recoverOrphans deals with the spool files that no record refers to,
// orphans (content SHA-256 -> file names): the database was lost or
// replaced, or a take was cut short between the spool and the record. None
// is deleted while its content could be lost. The copies of a content the
// inbox still holds (the file whose take was cut short) are removed: that
// file is taken again, and kept here a copy would outlive a person saving
// another file over it. Any other is given back to the inbox as a new file, named
// after its hash, to be taken again like one a person saved: recorded, and
// uploaded or held for a code. The repaired or trimmed copies sohoa made of
// a content kept as saved are removed (they are made again); without it,
// the repaired copy, else the trimmed one, is given back. It returns how
// many files went back to the inbox and how many were removed, and logs and
// counts each one given back.
func (in *Ingester) recoverOrphans(ctx context.Context, orphans map[string][]string) (returned, removed int, err error) {
	if len(orphans) == 0 {
		return 0, 0, nil
	}
	inInbox, err := in.inboxHolds(ctx, orphans)
	if err != nil {
		return 0, 0, err
	}
	for sha, names := range orphans {
		keep := in.spoolFile(sha, names)
		if inInbox[sha] {
			keep = "" // the inbox file is the copy that counts
		}
		for _, name := range names {
			if name != keep {
				os.Remove(filepath.Join(in.spool, name))
				removed++
			}
		}
		if keep == "" {
			continue
		}
		dst, err := in.giveBack(ctx, filepath.Join(in.spool, keep), sha)
		if err != nil {
			return returned, removed, err
		}
		returned++
		in.cfg.Logger.Warn("spool file with no record given back to the inbox to be taken again (was the database lost or replaced?)",
			"sha256", sha, "file", keep, "to", dst)
	}
	if returned > 0 {
		if err := in.cfg.Store.CountSpoolRecovered(returned); err != nil {
			return returned, removed, err
		}
	}
	return returned, removed, nil
}

// spoolFile picks, among a content's spool files, the one that is kept:
// the content as saved, else its repaired copy, else its trimmed one.
func (in *Ingester) spoolFile(sha string, names []string) string {
	for _, want := range []string{sha + ".pdf", sha + ".repaired.pdf", sha + ".trimmed.pdf"} {
		if slices.Contains(names, want) {
			return want
		}
	}
	return names[0]
}

// inboxHolds reports which of the orphans' contents a file the watcher
// will offer holds as saved. Only the files of an orphan's size are read.
func (in *Ingester) inboxHolds(ctx context.Context, orphans map[string][]string) (map[string]bool, error) {
	sizes := map[int64]bool{}
	for sha := range orphans {
		if fi, err := os.Stat(in.SpoolPath(sha, false)); err == nil {
			sizes[fi.Size()] = true
		}
	}
	holds := map[string]bool{}
	if len(sizes) == 0 {
		return holds, nil
	}
	err := filepath.WalkDir(in.cfg.Inbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil || ctx.Err() != nil {
			return ctx.Err() // an unreadable folder is not offered either
		}
		rel, _ := filepath.Rel(in.cfg.Inbox, p)
		if rel == "." {
			return nil
		}
		if in.Skip(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err != nil || !sizes[fi.Size()] {
			return nil
		}
		if sha, _, err := hashFile(p); err == nil {
			holds[sha] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for the spool's orphans in the inbox: %w", err)
	}
	return holds, nil
}

// giveBack moves the spool file src, of content sha, into the inbox as a
// new file, and returns its path there. Across file systems it is copied,
// fsynced and renamed into place before the spool file goes.
func (in *Ingester) giveBack(ctx context.Context, src, sha string) (string, error) {
	for _, name := range []string{"khoi-phuc-" + sha[:min(16, len(sha))] + ".pdf", "khoi-phuc-" + sha + ".pdf"} {
		dst := filepath.Join(in.cfg.Inbox, name)
		if fileExists(dst) {
			if got, _, err := hashFile(dst); err == nil && got == sha { // given back before, not yet taken
				return dst, os.Remove(src)
			}
			continue
		}
		err := os.Rename(src, dst)
		if errors.Is(err, syscall.EXDEV) {
			err = copyInto(ctx, src, dst)
			if err == nil {
				err = os.Remove(src)
			}
		}
		if err != nil {
			return "", fmt.Errorf("give %s back to the inbox: %w", filepath.Base(src), err)
		}
		return dst, atomicfile.SyncDir(in.cfg.Inbox)
	}
	return "", fmt.Errorf("give %s back to the inbox: its names there are taken by other files", filepath.Base(src))
}

// copyInto copies src to dst through a temporary file beside dst, fsynced
// before it is renamed.
func copyInto(ctx context.Context, src, dst string) error {
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(w.Name()) // a no-op once renamed
	defer w.Close()
	if _, _, err := atomicfile.Copy(ctx, w, r); err != nil {
		return err
	}
	if err := w.Sync(); err != nil {
		return err
	}
	return os.Rename(w.Name(), dst)
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
