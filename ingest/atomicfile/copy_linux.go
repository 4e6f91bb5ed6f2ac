package atomicfile

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the given range of f to
// disk without waiting for it. Only a hint: errors surface at fsync.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// copyRange copies src into dst inside the kernel (copy_file_range: page
// cache to page cache, no copy through our memory, none at all where the
// file system shares blocks) and hashes what it copied by mapping dst's
// pages as they are written: one pass over the bytes instead of a read, a
// write and a hash. The hash is of dst's bytes, so it names exactly the copy
// made; it runs one chunk behind the copy and sum waits for its end. ok is
// false, with nothing copied, where the kernel cannot copy between these two
// files (another file system on older kernels, a share, a pipe): the caller
// copies them itself.
func copyRange(ctx context.Context, dst, src *os.File) (n int64, sum func() (string, error), ok bool, err error) {
	dc, err := dst.SyscallConn()
	if err != nil {
		return 0, nil, false, nil
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return 0, nil, false, nil
	}
	type span struct{ off, n int64 }
	spans := make(chan span, 1)
	hashed := make(chan error, 1)
	h := sha256.New()
	go func() {
		var herr error
		for s := range spans {
			if herr == nil {
				herr = hashMapped(h, dst, s.off, s.n)
			}
		}
		hashed <- herr
	}()
	stop := func() { close(spans); <-hashed } //nolint:errcheck // on a failed copy: the copy's error is the one returned
	for {
		if err := ctx.Err(); err != nil {
			stop()
			return n, nil, true, err
		}
		var k int
		var cerr error
		ctlErr := sc.Control(func(sfd uintptr) {
			ctlErr := dc.Control(func(dfd uintptr) {
				for {
					k, cerr = unix.CopyFileRange(int(sfd), nil, int(dfd), nil, rangeChunk, 0)
					if !errors.Is(cerr, unix.EINTR) {
						return
					}
				}
			})
			if ctlErr != nil && cerr == nil {
				cerr = ctlErr
			}
		})
		if ctlErr != nil && cerr == nil {
			cerr = ctlErr
		}
		if cerr != nil {
			stop()
			if n == 0 && unsupported(cerr) {
				return 0, nil, false, nil
			}
			return n, nil, true, fmt.Errorf("copy into %s: %w", dst.Name(), cerr)
		}
		if k == 0 { // end of src
			close(spans)
			return n, hexSum(func() ([]byte, error) {
				if err := <-hashed; err != nil {
					return nil, fmt.Errorf("hash %s: %w", dst.Name(), err)
				}
				return h.Sum(nil), nil
			}), true, nil
		}
		startWriteback(dst, n, int64(k))
		spans <- span{n, int64(k)}
		n += int64(k)
	}
}

// unsupported reports whether copy_file_range refused the pair of files
// rather than failed on them.
func unsupported(err error) bool {
	return errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) ||
		errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EBADF) || errors.Is(err, unix.EPERM)
}

// hashMapped hashes n bytes of f from offset off, reading them through a
// read-only mapping of its pages, or with pread where the file cannot be
// mapped.
func hashMapped(h hash.Hash, f *os.File, off, n int64) error {
	page := int64(os.Getpagesize())
	start := off - off%page
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var data []byte
	var merr error
	if err := c.Control(func(fd uintptr) {
		data, merr = unix.Mmap(int(fd), start, int(off+n-start), unix.PROT_READ, unix.MAP_SHARED)
	}); err != nil {
		return err
	}
	if merr != nil {
		if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
			return fmt.Errorf("read back: %w", err)
		}
		return nil
	}
	defer unix.Munmap(data) //nolint:errcheck // a read-only mapping of ours: fails only on a bad address
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	h.Write(data[off-start:])
	return nil
}
