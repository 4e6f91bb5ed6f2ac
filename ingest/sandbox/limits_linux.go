package sandbox

import (
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sigCPU is the signal of a used-up RLIMIT_CPU.
const sigCPU = syscall.SIGXCPU

// sysProcAttr makes the kernel kill the parser process when the daemon
// dies (it also exits when its stdin ends).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// limitProcess sets this process's limits for serving requests (see the
// package documentation): the Go memory limit, RLIMIT_AS, no core files,
// and the lifetime RLIMIT_CPU. All through prlimit64, the system call
// systemd's @system-service filter allows (setrlimit is in @resources).
func limitProcess(lim Limits) (cpuLimit, error) {
	debug.SetMemoryLimit(lim.Memory / 4 * 3)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return cpuLimit{}, fmt.Errorf("read own address space: %w", err)
	}
	as := uint64(statusField(b, "VmSize:") + 2*lim.Memory + threadRoom())
	if err := prlimit(unix.RLIMIT_AS, as, as); err != nil {
		return cpuLimit{}, fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	if err := prlimit(unix.RLIMIT_CORE, 0, 0); err != nil {
		return cpuLimit{}, fmt.Errorf("set RLIMIT_CORE: %w", err)
	}
	used, err := cpuUsed()
	if err != nil {
		return cpuLimit{}, err
	}
	c := cpuLimit{hard: seconds(used) + seconds(max(lifetimeCPU, 10*lim.CPU))}
	return c, c.budget(lim.CPU)
}

// threadRoom is the address space left for the stacks of threads the Go
// runtime starts after the limit is set: in a cgo binary each is a pthread
// that reserves a whole RLIMIT_STACK (8 MiB by default) and uses a few KiB
// of it. A busy machine makes the runtime start more of them (goroutines
// blocked in system calls), which ran a small-capped parser out of address
// space on a 100 KiB file. Room for 32 threads.
func threadRoom() int64 {
	const threads = 32
	stack := int64(8 << 20)
	var r unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_STACK, &r) == nil && r.Cur != unix.RLIM_INFINITY && r.Cur > 0 && r.Cur < 64<<20 {
		stack = int64(r.Cur)
	}
	return threads * stack
}

// cpuLimit is the process's RLIMIT_CPU: the hard limit is set once, for
// the process's life; the soft one per request.
type cpuLimit struct{ hard uint64 }

// budget sets the soft limit to the CPU time used so far plus d.
func (c cpuLimit) budget(d time.Duration) error {
	used, err := cpuUsed()
	if err != nil {
		return err
	}
	soft := min(seconds(used)+seconds(d), c.hard)
	if err := prlimit(unix.RLIMIT_CPU, soft, c.hard); err != nil {
		return fmt.Errorf("set RLIMIT_CPU: %w", err)
	}
	return nil
}

// nearEnd reports whether another request of d might run into the hard
// limit: the process should retire.
func (c cpuLimit) nearEnd(d time.Duration) bool {
	used, err := cpuUsed()
	return err != nil || seconds(used)+seconds(d)+1 >= c.hard
}

func prlimit(resource int, soft, hard uint64) error {
	return unix.Prlimit(0, resource, &unix.Rlimit{Cur: soft, Max: hard}, nil)
}

// cpuUsed returns the CPU time (user and system) this process has used.
func cpuUsed() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// seconds rounds d up to whole seconds, RLIMIT_CPU's unit.
func seconds(d time.Duration) uint64 {
	return uint64((d + time.Second - 1) / time.Second)
}

// ServeStdio is Serve on the process's stdin and stdout. The answers go to
// a private copy of stdout, and stdout itself is pointed at stderr, so
// that nothing a library prints can corrupt the answers.
func ServeStdio() error {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return fmt.Errorf("parser: keep stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		return fmt.Errorf("parser: point stdout at stderr: %w", err)
	}
	out := os.NewFile(uintptr(fd), "answers")
	defer out.Close()
	return Serve(os.Stdin, out)
}
