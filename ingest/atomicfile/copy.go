package atomicfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

// copyChunk is the unit of reading, hashing and write-back in Copy;
// rangeChunk the unit of the in-kernel copy and of hashing behind it.
const (
	copyChunk  = 512 << 10
	rangeChunk = 4 << 20
)

// Copy copies src into dst, an empty file at offset 0, until EOF, and
// returns the SHA-256 of what it copied (hex) and its length. It is
// CopyThenHash waiting for the hash.
func Copy(ctx context.Context, dst *os.File, src io.Reader) (sha string, n int64, err error) {
	n, sum, err := CopyThenHash(ctx, dst, src)
	if err != nil {
		return "", n, err
	}
	sha, err = sum()
	return sha, n, err
}

// CopyThenHash copies src into dst, an empty file at offset 0, until EOF,
// and returns its length once every byte is written, while the SHA-256 of
// the copy may still be being computed: sum waits for it and returns it
// (hex); calling it again returns the same. dst's bytes are final when
// CopyThenHash returns, so the caller may read them (check the file) while
// the hash is finished. On error nothing runs on.
//
// It does not sync dst, but the caller's fsync is cheap afterwards: the
// kernel is asked to start writing each chunk back as soon as it is written
// (Linux), so the disk works while the rest is copied. From a regular file
// the kernel copies (see copyRange) and the copy's pages are hashed one
// chunk behind; from other readers the bytes pass through three turning
// buffers and are hashed on a second goroutine, beside the copy. Either way
// a file costs about the longer of copying and hashing, not their sum.
// CopyThenHash stops with ctx's error when ctx ends.
func CopyThenHash(ctx context.Context, dst *os.File, src io.Reader) (n int64, sum func() (string, error), err error) {
	if f, ok := src.(*os.File); ok {
		if n, sum, ok, err := copyRange(ctx, dst, f); ok {
			return n, sum, err
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
	hashed := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		for c := range chunks {
			h.Write(c)
		}
		hashed <- h.Sum(nil)
	}()
	for i := 0; ; i++ {
		var err error
		if err = ctx.Err(); err == nil {
			b := bufs[i%len(bufs)]
			k, rerr := io.ReadFull(src, b)
			if k > 0 {
				if _, werr := dst.Write(b[:k]); werr != nil {
					err = fmt.Errorf("write %s: %w", dst.Name(), werr)
				} else {
					startWriteback(dst, n, int64(k))
					chunks <- b[:k]
					n += int64(k)
				}
			}
			switch {
			case err != nil:
			case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
				close(chunks)
				return n, hexSum(func() ([]byte, error) { return <-hashed, nil }), nil
			case rerr != nil:
				err = fmt.Errorf("read: %w", rerr)
			default:
				continue
			}
		}
		close(chunks)
		<-hashed
		return n, nil, err
	}
}

// hexSum turns a wait for a digest into a sum function that waits once.
func hexSum(wait func() ([]byte, error)) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		d, err := wait()
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(d), nil
	})
}

// Hash returns the SHA-256 (hex) of the first n bytes of f, read with
// pread: not through a mapping, since f may be a file others can write,
// and one cut short under a mapping would fault. It fails if f has fewer
// than n bytes by then. It is how a file taken without a copy is hashed.
func Hash(ctx context.Context, f *os.File, n int64) (string, error) {
	h := sha256.New()
	// Small enough to stay in the CPU's first-level cache between the
	// read and the hash, and to be faulted in once: faster than 256 KiB
	// on the bench scans (BenchmarkFloor, docs/benchmarks.md).
	buf := make([]byte, 32<<10)
	for off := int64(0); off < n; off += rangeChunk {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		want := min(rangeChunk, n-off)
		got, err := io.CopyBuffer(h, io.NewSectionReader(f, off, want), buf)
		if err == nil && got < want {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return "", fmt.Errorf("hash %s: %w", f.Name(), err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
