package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// absolute makes the folders and files the configuration names absolute,
// against the working directory, so that no part of the daemon compares a
// relative path with an absolute one.
func (c *Config) absolute() error {
	for key, p := range map[string]*string{
		"inbox": &c.Inbox, "data_dir": &c.DataDir, "upload.dir.path": &c.Upload.Dir.Path, "web_config": &c.WebConfig,
	} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return bad(key, "%v", err)
		}
		*p = abs
	}
	return nil
}

// written are the folders sohoa writes into, by key: the inbox (the staff
// folders and notes), the data dir (database, spool, archive, admin socket)
// and the dir sink's outbox.
func (c *Config) written() []keyPath {
	w := []keyPath{{"inbox", c.Inbox}, {"data_dir", c.DataDir}}
	if c.Upload.Sink == "dir" {
		w = append(w, keyPath{"upload.dir.path", c.Upload.Dir.Path})
	}
	return w
}

type keyPath struct{ key, path string }

// checkNesting refuses folders sohoa writes that lie in one another (or are
// one): a data dir in the inbox would be taken as scans, an inbox in the
// outbox delivered from. Symlinks are resolved as far as the paths exist.
func (c *Config) checkNesting() error {
	w := c.written()
	for i, a := range w {
		for _, b := range w[i+1:] {
			ra, rb := resolve(a.path), resolve(b.path)
			switch {
			case ra == rb:
				return bad(b.key, "%s is the same folder as %s (%s): each must be a folder of its own", b.path, a.key, a.path)
			case inside(ra, rb):
				return bad(a.key, "%s is inside %s (%s): sohoa would treat its own files as another folder's; "+
					"inbox, data_dir and upload.dir.path must not contain one another", a.path, b.key, b.path)
			case inside(rb, ra):
				return bad(b.key, "%s is inside %s (%s): sohoa would treat its own files as another folder's; "+
					"inbox, data_dir and upload.dir.path must not contain one another", b.path, a.key, a.path)
			}
		}
	}
	return nil
}

// resolve returns the absolute path p with the symlinks of its longest
// existing prefix resolved.
func resolve(p string) string {
	dir, rest := filepath.Clean(p), ""
	for {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Clean(p)
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}

// inside reports whether a lies strictly below b.
func inside(a, b string) bool {
	rel, err := filepath.Rel(b, a)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkInbox checks that the inbox a configuration file names exists and is
// a folder: a typo must not quietly create a folder nobody scans into.
func (c *Config) checkInbox() error {
	fi, err := os.Stat(c.Inbox)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return bad("inbox", "%s does not exist: correct the path, or create the folder the scanner saves into "+
			"(install -d -m 2770 -g sohoa-inbox %s)", c.Inbox, c.Inbox)
	case err != nil:
		return bad("inbox", "%v", err)
	case !fi.IsDir():
		return bad("inbox", "%s is not a folder", c.Inbox)
	}
	return nil
}

// InboxWritable reports, as an error naming the key, that this process may
// not create files and folders in the inbox, where the daemon makes the
// staff folders, their notes and its lock. It is meaningful when run as the
// daemon's user.
func (c *Config) InboxWritable() error {
	if err := unix.Access(c.Inbox, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("inbox: %s is not writable by this user (uid %d): %w; the daemon makes the staff folders "+
			"and their notes there (add its user to the inbox's group, or fix the folder's mode)", c.Inbox, os.Getuid(), err)
	}
	return nil
}
