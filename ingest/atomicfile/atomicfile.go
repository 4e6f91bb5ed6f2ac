// Package atomicfile writes files so a crash leaves the old content or the
// new, never a part: temp file in the same folder, fsync, rename, fsync the
// folder.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tempPattern names the temporary files: a leading dot and a .tmp ending,
// so that the watcher never offers one and staff see it as junk.
const tempPattern = ".atomicfile-*.tmp"

// Write replaces path with data and mode perm (set exactly, whatever the
// umask): data goes to a temporary file in path's folder, which is synced,
// renamed over path, and the folder synced. On failure path is as it was
// and the temporary file is removed.
func Write(path string, data []byte, perm fs.FileMode) error {
	if err := Replace(path, data, perm); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Replace is Write without the folder's fsync, for folders that may be
// network mounts (an SMB or NFS inbox), where syncing a folder may not be
// supported: after a crash path may still hold the old content, but never
// a part of the new.
func Replace(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern)
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// RemoveTemps removes the temporary files that writes killed midway left
// in dir, and returns how many. Call it only while nothing writes in dir
// with this package (at start). A missing dir is not an error.
func RemoveTemps(dir string) (int, error) {
	temps, err := filepath.Glob(filepath.Join(dir, tempPattern))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range temps {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("remove temporary file: %w", err)
		}
		n++
	}
	return n, nil
}

// SyncDir fsyncs a folder, making the renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
