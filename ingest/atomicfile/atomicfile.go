// Package atomicfile writes files so a crash leaves the old content or the
// new, never a part: temp file in the same folder, fsync, rename, fsync the
// folder.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer root.Close()
	return ReplaceIn(root, filepath.Base(path), data, perm)
}

// ReplaceIn is Replace of name within root: neither the file nor its
// temporary file can be outside root, whatever links its folders are.
func ReplaceIn(root *os.Root, name string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(name)
	prefix, suffix, _ := strings.Cut(tempPattern, "*")
	var f *os.File
	var tmp string
	for {
		tmp = filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		var err error
		f, err = root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	_, err := f.Write(data)
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
		err = root.Rename(tmp, filepath.Join(dir, base))
	}
	if err != nil {
		_ = root.Remove(tmp) // err says what failed; the temporary file goes as best it can
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

// RemoveTempsIn is RemoveTemps of the folder root: a link in its place
// is never followed, so nothing outside it is touched.
func RemoveTempsIn(root *os.Root) (int, error) {
	d, err := root.Open(".")
	if err != nil {
		return 0, fmt.Errorf("open folder: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("read folder: %w", err)
	}
	n := 0
	for _, name := range names {
		if ok, _ := filepath.Match(tempPattern, name); !ok {
			continue
		}
		if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
