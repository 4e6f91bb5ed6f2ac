package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkable reports whether the inbox file fi may be taken by a hard link:
// it is ours and has no other name, so nobody else can reach its bytes
// once it left the inbox, and its mode may be set.
func linkable(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uint32(os.Geteuid()) && st.Nlink == 1
}

// writableDir reports whether we may create and remove names in dir.
func writableDir(dir string) bool {
	return unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS) == nil
}

// noWriter reports whether no process has f open for writing: the kernel
// grants a read lease only then (the lease is given up at once). ErrBusy
// when a writer has it open; another error where leases are not available
// (network file systems, leases disabled).
func noWriter(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		if _, lerr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK); lerr == nil {
			_, lerr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
		}
	}); err != nil {
		return err
	}
	switch {
	case errors.Is(lerr, unix.EAGAIN):
		return ErrBusy
	case lerr != nil:
		return fmt.Errorf("read lease: %w", lerr)
	}
	return nil
}
