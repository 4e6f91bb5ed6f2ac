package atomicfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// copyChunk is the unit of reading, hashing and write-back in Copy.
const copyChunk = 512 << 10

// Copy copies src into dst, an empty file at offset 0, until EOF, and
// returns the SHA-256 of what it copied (hex) and its length. It does not
// sync dst, but the caller's fsync is cheap afterwards: Copy asks the kernel
// to start writing each chunk back as soon as it is written (Linux), so the
// disk works while the rest is read. Hashing runs on a second goroutine, beside the copy, so
// that a file costs about the longer of the two rather than their sum.
// Copy stops with ctx's error when ctx ends.
//
// When src is a regular file the kernel can copy from (Linux), the bytes are
// copied inside the kernel and hashed from dst's pages (see copyRange).
func Copy(ctx context.Context, dst *os.File, src io.Reader) (sha string, n int64, err error) {
	if f, ok := src.(*os.File); ok {
		if sha, n, ok, err := copyRange(ctx, dst, f); ok {
			return sha, n, err
		}
	}
	// Three buffers turn: one being filled and written, one waiting in the
	// channel, one being hashed. A buffer is filled again only after the
	// hasher took the one after it, so it has finished with this one.
	var bufs [3][]byte
	for i := range bufs {
		bufs[i] = make([]byte, copyChunk)
	}
	chunks := make(chan []byte, 1)
	sum := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		for c := range chunks {
			h.Write(c)
		}
		sum <- h.Sum(nil)
	}()
	defer func() {
		close(chunks)
		s := <-sum
		if err == nil {
			sha = hex.EncodeToString(s)
		}
	}()
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		b := bufs[i%len(bufs)]
		k, rerr := io.ReadFull(src, b)
		if k > 0 {
			if _, err := dst.Write(b[:k]); err != nil {
				return "", n, fmt.Errorf("write %s: %w", dst.Name(), err)
			}
			startWriteback(dst, n, int64(k))
			chunks <- b[:k]
			n += int64(k)
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return "", n, nil // the deferred function fills in sha
		default:
			return "", n, fmt.Errorf("read: %w", rerr)
		}
	}
}
