package ingest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// TidyNotes keeps the staff folders' notes true to their files: it removes
// the notes sohoa wrote whose file is no longer beside them (a person
// deleted or moved it), so that what staff see is only what is still to do,
// and writes again the note of a recorded scan whose note a person deleted,
// so that no file waits there without its note. A .txt file that is not one
// of sohoa's notes is left alone. It returns how many notes it removed and
// how many it wrote again.
func (in *Ingester) TidyNotes() (removed, restored int, err error) {
	root, err := os.OpenRoot(in.cfg.Inbox)
	if err != nil {
		return 0, 0, fmt.Errorf("open the inbox: %w", err)
	}
	defer root.Close()
	// A note is written before its file is moved in beside it.
	in.moving.Lock()
	defer in.moving.Unlock()
	for _, folder := range []string{in.cfg.Errors, in.cfg.Waiting} {
		dir, files, notes, err := staffFiles(root, folder)
		if err != nil {
			return removed, restored, err
		}
		if dir == nil {
			continue
		}
		sub, err := root.OpenRoot(folder)
		dir.Close()
		if err != nil {
			return removed, restored, err
		}
		for _, note := range notes {
			if _, err := sub.Lstat(strings.TrimSuffix(note, ".txt")); !errors.Is(err, fs.ErrNotExist) || !isNote(sub, note) {
				continue
			}
			if err := sub.Remove(note); err == nil {
				removed++
				in.cfg.Logger.Info("note removed: its file is no longer in the staff folder", "note", folder+"/"+note)
			}
		}
		for _, name := range files {
			if ok, err := in.restoreNote(root, sub, folder, name); err != nil {
				sub.Close()
				return removed, restored, err
			} else if ok {
				restored++
			}
		}
		sub.Close()
	}
	return removed, restored, nil
}

// restoreNote writes again the note of the file name in folder (sub is
// that folder, root the inbox) if it has none and is the recorded place of
// a scan of its content. A file no record places there (a person's own, or
// one rejected unread) is left as it is.
func (in *Ingester) restoreNote(root, sub *os.Root, folder, name string) (bool, error) {
	if _, err := sub.Lstat(name + ".txt"); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	fi, err := sub.Lstat(name)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > in.cfg.MaxBytes {
		return false, nil // gone meanwhile, or too large to read here
	}
	place := path.Join(folder, name)
	f, err := sub.Open(name)
	if err != nil {
		return false, nil
	}
	sha, _, err := hashOf(f, place)
	f.Close()
	if err != nil {
		return false, nil
	}
	sc, err := in.cfg.Store.Scan(sha)
	if err != nil || sc.Place != place {
		return false, nil
	}
	if err := in.writeNote(root, place+".txt", sc); err != nil {
		return false, err
	}
	in.cfg.Logger.Info("note written again: a person had deleted it", "note", place+".txt", "sha256", sha)
	return true, nil
}

// isNote reports whether name, in root, is a note sohoa wrote.
func isNote(root *os.Root, name string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(noteHead))
	_, err = io.ReadFull(f, head)
	return err == nil && string(head) == noteHead
}
