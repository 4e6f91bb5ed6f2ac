package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrChanged is Seal's error for a file that no longer holds the content
// it was recorded with.
var ErrChanged = errors.New("content changed")

// Seal makes sure that the file at path holds the content whose SHA-256
// (hex) is sha and that no process can change it any more: a data dir
// file taken by a hard link from the inbox is the inode a program that
// opened the inbox file may still write into after its name there is gone.
// Where the kernel grants a read lease, nobody has the file open for
// writing: its bytes are hashed under the lease, which a writer opening it
// meanwhile would break. Where a writer has it open, it is replaced by a
// copy of its own, fsynced, whose bytes are hashed on the way (the writer
// keeps the old inode). Where there are no leases (a network file system),
// it is only hashed. The error wraps ErrChanged when the file holds other
// bytes: the content recorded for it is gone.
func Seal(ctx context.Context, path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	held, err := readLease(f)
	switch {
	case err == nil:
		got, herr := hashAll(ctx, f)
		still := held()
		if err := errors.Join(herr, changed(path, got, sha)); err != nil {
			return err
		}
		if still {
			return nil
		}
		// A writer opened it while it was read: make it ours.
	case errors.Is(err, errWriter):
	default: // no leases here
		got, err := hashAll(ctx, f)
		if err != nil {
			return err
		}
		return changed(path, got, sha)
	}
	return unshare(ctx, f, path, sha)
}

// changed returns an error wrapping ErrChanged unless got is want.
func changed(path, got, want string) error {
	if got == want {
		return nil
	}
	return fmt.Errorf("%s: %w after it was recorded (sha256 %s, recorded %s)", path, ErrChanged, got, want)
}

func hashAll(ctx context.Context, f *os.File) (string, error) {
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return Hash(ctx, f, fi.Size())
}

// unshare replaces path, open as f, with a copy of f's bytes under a new
// inode, fsynced with its folder, if they still hash to sha.
func unshare(ctx context.Context, f *os.File, path, sha string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-seal-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	got, _, err := Copy(ctx, tmp, f)
	if err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	if err := changed(path, got, sha); err != nil {
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync copy of %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}
