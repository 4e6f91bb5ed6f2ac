package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/store"
)

// taken is a file being taken into the spool.
type taken struct {
	tmp string // its temporary name in the spool
	// sum waits for the SHA-256 of the spooled bytes; synced for their
	// fsync, then closes what take opened. Both may be called again and
	// return the same.
	sum    func() (string, error)
	synced func() error
	// shared is set when tmp is a hard link to the inbox file rather than
	// a copy: the file as it was when linked, for unchanged.
	shared fs.FileInfo
}

// take copies a regular file into the spool, to a temporary name, and
// returns once every byte is written, while the copy's hash (sum) and fsync
// (synced) run on. With Config.Link, a file on the data dir's file system
// that no one has open for writing is hard-linked instead (see takeLinked):
// no second copy of the bytes is written. (Files over the size cap are
// rejected before they are taken.) It returns ErrBusy when the file
// changed or was replaced since info was taken.
func (in *Ingester) take(ctx context.Context, p string, info fs.FileInfo) (t taken, err error) {
	// O_NOFOLLOW: a file swapped for a symlink is not followed out of the
	// inbox; O_NONBLOCK: one swapped for a FIFO does not hang us.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
		return taken{}, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	if err != nil {
		return taken{}, fmt.Errorf("open %s: %w", p, err)
	}
	keep := false // f stays open for a linked take's hash and fsync
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	before, err := f.Stat()
	if err != nil {
		return taken{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if !before.Mode().IsRegular() || !sameVersion(before, info) {
		return taken{}, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	if in.cfg.Link {
		t, ok, err := in.takeLinked(ctx, p, f, before)
		if ok || err != nil {
			keep = ok
			return t, err
		}
	}
	copied := func(n int64) error {
		after, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if n != info.Size() || after.Size() != n || !after.ModTime().Equal(info.ModTime()) {
			return fmt.Errorf("%s: %w", p, ErrBusy)
		}
		return nil
	}
	out, err := os.CreateTemp(in.spool, ".tmp-*")
	if err != nil {
		return taken{}, fmt.Errorf("spool: %w", err)
	}
	n, sum, err := atomicfile.CopyThenHash(ctx, out, f)
	if err == nil {
		if err = out.Chmod(0o640); err != nil {
			err = fmt.Errorf("spool: %w", err)
		}
	} else {
		err = fmt.Errorf("copy %s into the spool: %w", p, err)
	}
	if err == nil {
		err = copied(n)
	}
	if err != nil {
		if sum != nil {
			_, _ = sum() // the hash reads the copy: let it end first
		}
		out.Close()
		os.Remove(out.Name())
		return taken{}, err
	}
	synced := sync.OnceValue(func() error {
		err := out.Sync()
		if err != nil {
			err = fmt.Errorf("sync spool copy of %s: %w", p, err)
		}
		// The hash may still read through the file: let it end first (its
		// result is kept for the caller).
		_, _ = sum()
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("spool: %w", cerr)
		}
		return err
	})
	go synced() //nolint:errcheck // the fsync starts now; callers wait for its end and read its result
	return taken{tmp: out.Name(), sum: sum, synced: synced}, nil
}

// takeLinked takes the open inbox file f (its state before) into the spool
// by a hard link, when it can do so safely: it is ours (so that its mode
// may be set), it has no other name, no process has it open for writing
// (a read lease is granted only then: see noWriter), and the data dir is on
// its file system. ok is false, with nothing done, when any of these does
// not hold: the caller copies the file. The bytes are hashed through the
// shared inode and fsynced there; sum reports ErrBusy if the file changed
// meanwhile, and Ingest checks again (unchanged) before it records.
func (in *Ingester) takeLinked(ctx context.Context, p string, f *os.File, before fs.FileInfo) (t taken, ok bool, err error) {
	// Only a file we can also remove from the inbox once recorded: left
	// there, its name would still reach the spool's bytes.
	if !linkable(before) || !writableDir(filepath.Dir(p)) {
		return taken{}, false, nil
	}
	if noWriter(f) != nil {
		// Open for writing (a program may hold a finished file open), or
		// no leases here (a share): a copy, whose bytes are checked to
		// stay as they were while it is made, as before links.
		return taken{}, false, nil
	}
	var tmp string
	for {
		tmp = filepath.Join(in.spool, fmt.Sprintf(".tmp-%016x", rand.Uint64()))
		err := os.Link(p, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return taken{}, false, nil // another file system, or not allowed: copy
		}
	}
	linked, err := os.Lstat(tmp)
	if err != nil || !sameVersion(linked, before) {
		os.Remove(tmp) // p was replaced or changed between open and link
		return taken{}, false, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	sum := sync.OnceValues(func() (string, error) {
		sha, err := atomicfile.Hash(ctx, f, before.Size())
		if uerr := unchanged(tmp, linked); uerr != nil {
			return "", uerr // cut short or rewritten meanwhile: taken again later
		}
		return sha, err
	})
	go sum() //nolint:errcheck // the hash starts now; its result is kept for the caller
	synced := sync.OnceValue(func() error {
		err := f.Sync()
		if err != nil {
			err = fmt.Errorf("sync %s: %w", p, err)
		}
		// The hash reads through f: let it end first (its result is kept
		// for the caller).
		_, _ = sum()
		f.Close()
		return err
	})
	go synced() //nolint:errcheck // the fsync starts now; callers wait for its end and read its result
	return taken{tmp: tmp, sum: sum, synced: synced, shared: linked}, true, nil
}

// keep gives the checked file taken as t its name in the spool, by its
// content sha, and the repaired copy the check wrote at repaired, if it
// did, its own; once the copy's fsync has ended, the spool folder is
// fsynced. rel names the file in errors.
func (in *Ingester) keep(t taken, sha, repaired string, isRepaired bool, rel string) error {
	if err := os.Rename(t.tmp, in.SpoolPath(sha, false)); err != nil {
		return fmt.Errorf("spool %s: %w", rel, err)
	}
	if isRepaired {
		if err := os.Rename(repaired, in.SpoolPath(sha, true)); err != nil {
			return fmt.Errorf("spool the repaired copy of %s: %w", rel, err)
		}
	}
	if err := t.synced(); err != nil {
		return err
	}
	return atomicfile.SyncDir(in.spool)
}

// claim makes a linked take's spool file (shared, the inbox file as it was
// linked; nil for a copy) the scan's own before the scan is recorded in
// state: it fails with ErrBusy if the file changed since it was linked,
// gives a scan that will leave the inbox its spool mode, and gives one that
// waits in a staff folder, where staff may open and change it, a copy of
// its own. A rejected scan's spool file is removed once it is in the errors
// folder: it stays as it is. On failure the scan's spool files go.
func (in *Ingester) claim(ctx context.Context, shared fs.FileInfo, sha string, state store.State) (err error) {
	if shared == nil {
		return nil
	}
	defer func() {
		if err != nil { // not recorded: the file is taken again, whole
			for _, q := range []string{in.SpoolPath(sha, false), in.SpoolPath(sha, true), in.TrimmedPath(sha)} {
				os.Remove(q)
			}
		}
	}()
	p := in.SpoolPath(sha, false)
	if err := unchanged(p, shared); err != nil {
		return err
	}
	switch state {
	case store.Rejected:
		return nil
	case store.Waiting:
		return in.unshare(ctx, p, sha)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// unshare replaces the spool file p, a hard link to an inbox file, with a
// copy of its own, fsynced, whose SHA-256 must still be sha.
func (in *Ingester) unshare(ctx context.Context, p, sha string) error {
	src, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer src.Close()
	out, err := os.CreateTemp(in.spool, ".tmp-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer os.Remove(out.Name()) // a no-op once renamed
	defer out.Close()
	got, _, err := atomicfile.Copy(ctx, out, src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if got != sha {
		return fmt.Errorf("%s changed while it was being taken: %w", p, ErrBusy)
	}
	if err := out.Chmod(0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync spool copy of %s: %w", p, err)
	}
	if err := os.Rename(out.Name(), p); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return atomicfile.SyncDir(in.spool)
}

// unchanged returns ErrBusy unless the file at p is still the version of
// it that before describes (see sameVersion).
func unchanged(p string, before fs.FileInfo) error {
	now, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if !sameVersion(now, before) {
		return fmt.Errorf("%s changed while it was being taken: %w", p, ErrBusy)
	}
	return nil
}

// sameVersion reports whether a and b are the same file with the same size
// and modification time. (Not the change time: linking and renaming a file
// change that.)
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// hashFile returns the SHA-256 and size of the file at p.
func hashFile(p string) (sha string, size int64, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return hashOf(f, p)
}

// hashOf returns the SHA-256 and size of what r reads, the file name.
func hashOf(r io.Reader, name string) (sha string, size int64, err error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
