package atomicfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errWriter is readLease's error when a process has the file open for
// writing.
var errWriter = errors.New("open for writing")

// readLease takes a read lease on f, which the kernel grants only when no
// process has f open for writing, and breaks when one opens it so. held
// gives the lease up and reports whether it was still whole. The error is
// errWriter when a writer has f open, another where leases are not
// available (network file systems, leases disabled, a file not ours).
func readLease(f *os.File) (held func() bool, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { _, lerr = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK) }); err != nil {
		return nil, err
	}
	switch {
	case errors.Is(lerr, unix.EAGAIN):
		return nil, errWriter
	case lerr != nil:
		return nil, lerr
	}
	return func() bool {
		kind := -1
		rc.Control(func(fd uintptr) { //nolint:errcheck // the fd is open: Control does not fail
			// During a break the kernel reports the lease it is being
			// broken to (F_UNLCK), not F_RDLCK.
			kind, _ = unix.FcntlInt(fd, unix.F_GETLEASE, 0)
			unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK) //nolint:errcheck // closing f ends the lease anyway
		})
		return kind == unix.F_RDLCK
	}, nil
}
