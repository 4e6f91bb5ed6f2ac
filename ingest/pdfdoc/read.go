package pdfdoc

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// ReadFile reads a PDF of at most maxBytes into memory, failing when it is
// larger. A path that is not a regular file is not opened (a FIFO would
// block).
func ReadFile(path string, maxBytes int64) ([]byte, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > maxBytes {
		return nil, fmt.Errorf("%s: %d bytes over the cap of %d", path, fi.Size(), maxBytes)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, maxBytes+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(buf.Len()) > maxBytes {
		return nil, fmt.Errorf("%s: over the cap of %d bytes", path, maxBytes)
	}
	return buf.Bytes(), nil
}
