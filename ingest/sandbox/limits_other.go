//go:build !linux

package sandbox

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// The parser process's limits use Linux's prlimit64 and /proc; elsewhere
// it refuses to start (set check.isolate: false).

// sigCPU is never sent: the process does not start.
var sigCPU = os.Interrupt

func sysProcAttr() *syscall.SysProcAttr { return nil }

var errNotLinux = errors.New("parser process limits need Linux")

func limitProcess(Limits) (cpuLimit, error) { return cpuLimit{}, errNotLinux }

type cpuLimit struct{}

func (cpuLimit) budget(time.Duration) error { return errNotLinux }

func (cpuLimit) nearEnd(time.Duration) bool { return true }

// ServeStdio is Serve on the process's stdin and stdout.
func ServeStdio() error { return Serve(os.Stdin, os.Stdout) }
