//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

var errWriter = errors.New("open for writing")

// readLease: no leases here; Seal only hashes.
func readLease(*os.File) (func() bool, error) { return nil, errors.ErrUnsupported }
