//go:build linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package pdfcheck

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// quietReader reads a file through pread(2) made as a raw system call, one
// the Go scheduler is not told of.
//
// Why: while a goroutine is in an ordinary system call, the runtime's
// monitor thread (sysmon) takes its processor away from it once the call
// has lasted a tick, and every such take sets the monitor back to waking
// every 20 µs. pdfcpu reads each stream of a scan in one read of up to
// megabytes, so in a parser process (one processor, one goroutine) the
// monitor woke at that rate through the whole parse, and in a VM each
// wake-up costs a trip through the hypervisor (perf over `.ci/bench.sh`'s
// scans, docs/benchmarks.md). A raw call keeps the processor, and
// the monitor backs off to its 10 ms. Only for a process where nothing else
// needs the processor meanwhile (Checker.QuietReads).
type quietReader struct {
	f  *os.File // kept open by its owner until the reads end
	fd uintptr
}

func quietFile(f *os.File) io.ReaderAt { return quietReader{f: f, fd: f.Fd()} }

// ReadAt implements io.ReaderAt.
func (q quietReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		r, _, errno := syscall.RawSyscall6(syscall.SYS_PREAD64, q.fd,
			uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n), uintptr(off+int64(n)), 0, 0)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return n, &os.PathError{Op: "pread", Path: q.f.Name(), Err: errno}
		case r == 0:
			return n, io.EOF
		}
		n += int(r)
	}
	return n, nil
}
