//go:build !linux

package atomicfile

import (
	"context"
	"os"
)

// startWriteback does nothing where sync_file_range does not exist; the
// caller's fsync writes everything.
func startWriteback(*os.File, int64, int64) {}

// copyRange is Linux's in-kernel copy; elsewhere Copy copies itself.
func copyRange(context.Context, *os.File, *os.File) (int64, func() (string, error), bool, error) {
	return 0, nil, false, nil
}
