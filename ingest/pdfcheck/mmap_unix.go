//go:build unix

package pdfcheck

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only: the checks of our own
// read the parts they need straight from the page cache, with no buffer for
// the whole file.
// The mapping outlives f; release unmaps it. Reading past the end of a file
// that shrank faults; inspectBounded turns that into an error.
func mapFile(f *os.File, size int64) (data []byte, release func(), err error) {
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", f.Name(), err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil // fails only on a bad address
}
