package ingest

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ownedAsExpected reports whether the staff folder fi is owned by the
// daemon's user, the owner of the inbox (IT made it) or root.
func ownedAsExpected(fi, inbox fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	in, iok := inbox.Sys().(*syscall.Stat_t)
	if !ok || !iok {
		return false
	}
	return st.Uid == uint32(os.Geteuid()) || st.Uid == in.Uid || st.Uid == 0
}

// renameOut moves name, in the folder open as dir, to newPath (outside
// the inbox) without resolving dir's path again. EXDEV when newPath is on
// another file system.
func renameOut(dir *os.File, name, newPath string) error {
	rc, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		rerr = unix.Renameat(int(fd), name, unix.AT_FDCWD, newPath)
	}); err != nil {
		return err
	}
	if rerr != nil {
		return &os.LinkError{Op: "renameat", Old: name, New: newPath, Err: rerr}
	}
	return nil
}
