package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/sohoa/sohoa/ingest/atomicfile"
)

// DirSink delivers into a folder, a mounted share or a local outbox, as
// <dossier>/<name>. Each file is written under a temporary name, fsynced,
// renamed into place and its folder fsynced, so the target never shows a
// partial file. Delivering the same content again is a no-op; a different
// content under a taken name goes beside it with its hash in the name.
type DirSink struct {
	Root string
	// Tag names this machine in temporary file names (its host name), so
	// that RemoveStale removes only what this machine left behind when
	// several counters deliver into one share.
	Tag string
	// RequireMount makes deliveries wait while Root is not a mount point: a
	// share's mount point is an empty local folder while the share is down,
	// and scans copied there would never reach the province.
	RequireMount bool
	// Link delivers a hard link to the data dir's copy instead of a second
	// copy when the folder is on the same file system (a local outbox): no
	// second write and fsync of the bytes, no second copy on the disk. The
	// file is not hashed again on the way: the worker sealed it just before
	// (its recorded bytes, and no process able to write into it: see seal).
	// Where links cannot be made (another file system, a share) the file is
	// copied.
	Link bool
}

// Put implements Sink.
func (d DirSink) Put(ctx context.Context, it Item) error {
	if _, err := os.Stat(d.Root); err != nil {
		// A share that is not mounted must not be filled as a local folder.
		return &Error{Kind: KindFilesystem, Err: fmt.Errorf("upload folder: %w", err)}
	}
	if d.RequireMount {
		if err := mountPoint(d.Root); err != nil {
			return &Error{Kind: KindFilesystem, Err: err}
		}
	}
	dir := filepath.Join(d.Root, safeName(it.Dossier))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	for _, cand := range names(safeName(it.Name), safeName(it.Dossier), it.SHA256) {
		target := filepath.Join(dir, cand)
		same, err := sameContent(target, it.SHA256)
		if err != nil {
			return &Error{Kind: KindFilesystem, Err: err}
		}
		switch {
		case same:
			return nil // delivered before (a repeat after a crash)
		case fileExists(target):
			continue // another scan already has this name
		}
		return d.write(ctx, it, target)
	}
	// A person must move what holds both names: retrying cannot help.
	return &Error{Kind: KindFilesystem, Permanent: true,
		Err: fmt.Errorf("%s: both %s and its hashed name are taken by other content", dir, safeName(it.Name))}
}

func (d DirSink) write(ctx context.Context, it Item, target string) error {
	if d.Link {
		linked, err := d.link(it, target)
		if linked || err != nil {
			return err
		}
	}
	src, err := os.Open(it.Path)
	if err != nil {
		return &Error{Kind: KindSource, Err: err}
	}
	defer src.Close()
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, d.tempPrefix()+"*")
	if err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	got, _, err := atomicfile.Copy(ctx, tmp, src)
	if err != nil {
		return &Error{Kind: KindFilesystem, Err: fmt.Errorf("write %s: %w", tmp.Name(), err)}
	}
	if got != it.SHA256 {
		return &Error{Kind: KindSource, Err: fmt.Errorf("%s: content changed in the data dir (sha256 %s, want %s)", it.Path, got, it.SHA256)}
	}
	if err := tmp.Chmod(0o640); err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	if err := tmp.Sync(); err != nil {
		return &Error{Kind: KindFilesystem, Err: fmt.Errorf("sync %s: %w", tmp.Name(), err)}
	}
	if err := tmp.Close(); err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	ok = true
	if err := atomicfile.SyncDir(dir); err != nil {
		return &Error{Kind: KindFilesystem, Err: err}
	}
	return nil
}

// link delivers it as a hard link to its data dir copy: linked under a
// temporary name, renamed into place, the folder fsynced (the bytes are
// fsynced already, in the data dir). linked is false, with no error, when no
// link can be made there; the caller copies instead.
func (d DirSink) link(it Item, target string) (linked bool, err error) {
	dir := filepath.Dir(target)
	tmp := filepath.Join(dir, d.tempPrefix()+it.SHA256[:min(16, len(it.SHA256))]+".link")
	os.Remove(tmp) // ours, left by a failed attempt
	if os.Link(it.Path, tmp) != nil {
		// Another file system, one without links, or a missing source or
		// folder: the copy tells the last two apart.
		return false, nil
	}
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	fi, err := os.Stat(tmp)
	if err != nil {
		return false, &Error{Kind: KindFilesystem, Err: err}
	}
	if it.Size > 0 && fi.Size() != it.Size {
		return false, &Error{Kind: KindSource, Err: fmt.Errorf("%s: content changed in the data dir (%d bytes, want %d)", it.Path, fi.Size(), it.Size)}
	}
	// The mode is the inode's, shared with the data dir's copy: the one
	// every delivered file has.
	if err := os.Chmod(tmp, 0o640); err != nil {
		return false, &Error{Kind: KindFilesystem, Err: err}
	}
	if err := os.Rename(tmp, target); err != nil {
		return false, &Error{Kind: KindFilesystem, Err: err}
	}
	ok = true
	if err := atomicfile.SyncDir(dir); err != nil {
		return true, &Error{Kind: KindFilesystem, Err: err}
	}
	return true, nil
}

// mountPoint fails unless dir is on another device than its parent.
func mountPoint(dir string) error {
	var a, b syscall.Stat_t
	if err := syscall.Stat(dir, &a); err != nil {
		return fmt.Errorf("upload folder: %w", err)
	}
	if err := syscall.Stat(filepath.Join(dir, ".."), &b); err != nil {
		return fmt.Errorf("upload folder: %w", err)
	}
	if a.Dev == b.Dev && a.Ino != b.Ino {
		return fmt.Errorf("upload folder %s is not a mounted share (upload.dir.require_mount); waiting for it to be mounted", dir)
	}
	return nil
}

// sameContent reports whether path is a file with the given SHA-256.
func sameContent(path, sha string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, err // a folder, say: not this scan, and the name is taken
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sha, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// maxName is the longest file name, in bytes, that Linux file systems and
// SMB shares take (a share counts UTF-16 units, never more than UTF-8's
// bytes).
const maxName = 255

// maxExt is the longest extension kept when a name is shortened; a longer
// one is part of the stem.
const maxExt = 16

// names returns the names a scan called name of the dossier code with
// content sha may be delivered as, in order of preference: the name
// itself, then beside it with the content's hash, each made to fit maxName.
// A name that does not fit is shortened keeping the dossier code, the
// extension and the hash.
func names(name, code, sha string) []string {
	hashed := withHash(name, sha)
	switch {
	case len(hashed) <= maxName:
		return []string{name, hashed}
	case len(name) <= maxName:
		return []string{name, shorten(name, code, sha)}
	}
	return []string{shorten(name, code, sha)}
}

func withHash(name, sha string) string {
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + hashTag(sha) + ext
}

func hashTag(sha string) string { return " (" + sha[:min(12, len(sha))] + ")" }

// shorten cuts name's stem to fit maxName with the hash of sha and the
// extension after it. The dossier code stays: where the cut would lose it,
// the code leads the name and the rest of the stem follows it.
func shorten(name, code, sha string) string {
	ext := filepath.Ext(name)
	if len(ext) > maxExt {
		ext = ""
	}
	stem := strings.TrimSuffix(name, ext)
	room := maxName - len(hashTag(sha)) - len(ext)
	if i := strings.Index(stem, code); code == "" || i >= 0 && i+len(code) <= room {
		return trimCut(stem, room) + hashTag(sha) + ext
	}
	rest := strings.Trim(strings.Replace(stem, code, "", 1), " -_.")
	return trimCut(code+" "+rest, room) + hashTag(sha) + ext
}

// trimCut cuts s to at most n bytes, on a character boundary, and drops
// the spaces and separators the cut leaves at its end.
func trimCut(s string, n int) string {
	if len(s) > n {
		s = s[:max(n, 0)]
		for s != "" { // drop a character cut in two
			if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	return strings.TrimRight(s, " -_.")
}

// safeName keeps a name to one path element that Windows shares accept.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, s)
	s = strings.TrimLeft(s, ". ")
	if s == "" {
		s = "_"
	}
	return s
}

func (d DirSink) tempPrefix() string { return ".sohoa-upload-" + safeName(d.Tag) + "-" }

// RemoveStale removes the temporary files this machine left in the
// dossier folders when it was killed mid-write. Call it at start, before any
// delivery: only one sohoa runs per machine (the data dir's lock), so none
// of them is being written. A missing root is not an error.
func (d DirSink) RemoveStale() (int, error) {
	dirs, err := os.ReadDir(d.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("upload folder: %w", err)
	}
	n := 0
	for _, e := range dirs {
		if !e.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(d.Root, e.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if strings.HasPrefix(f.Name(), d.tempPrefix()) && os.Remove(filepath.Join(d.Root, e.Name(), f.Name())) == nil {
				n++
			}
		}
	}
	return n, nil
}
