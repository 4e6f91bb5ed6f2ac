//go:build !unix

package pdfcheck

import (
	"fmt"
	"io"
	"os"
)

// mapFile reads the first size bytes of f into memory.
func mapFile(f *os.File, size int64) (data []byte, release func(), err error) {
	data = make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return data, func() {}, nil
}
