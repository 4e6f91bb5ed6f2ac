//go:build unix

package watcher

import (
	"io/fs"
	"syscall"
)

// fileID identifies a file on its file system: a file replaced by another of
// the same size and time still gets a new inode.
type fileID struct{ dev, ino uint64 }

func idOf(info fs.FileInfo) fileID {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)} //nolint:unconvert // the types differ between systems
}
