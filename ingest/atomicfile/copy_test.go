package atomicfile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/iotest"
)

func TestCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, copyChunk - 1, copyChunk, copyChunk + 1, 3 * copyChunk, 7*copyChunk + 12345} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		// A reader that returns short reads exercises the buffer rotation
		// the way a pipe or a network share does.
		for name, src := range map[string]io.Reader{
			"file":  bytes.NewReader(data),
			"short": iotest.HalfReader(bytes.NewReader(data)),
		} {
			copyAndCompare(t, fmt.Sprintf("%d bytes, %s", size, name), src, data)
		}
	}
}

// Files are copied inside the kernel where it can (Linux, one file system)
// and by hand elsewhere; both give the same bytes and hash, at every size
// around the chunk boundaries of either way.
func TestCopyFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dirs := map[string]string{"same file system": t.TempDir()}
	if shm, err := os.MkdirTemp("/dev/shm", "sohoa-copy-"); err == nil {
		dirs["from tmpfs"] = shm
		t.Cleanup(func() { os.RemoveAll(shm) })
	}
	for _, size := range []int{0, 1, 4095, copyChunk + 1, rangeChunk - 1, rangeChunk, 2*rangeChunk + 4097} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for name, dir := range dirs {
			srcPath := filepath.Join(dir, "src")
			if err := os.WriteFile(srcPath, data, 0o600); err != nil {
				t.Fatal(err)
			}
			src, err := os.Open(srcPath)
			if err != nil {
				t.Fatal(err)
			}
			copyAndCompare(t, fmt.Sprintf("%d bytes, %s", size, name), src, data)
			src.Close()
		}
	}
	if runtime.GOOS != "linux" {
		return
	}
	// On one Linux file system the kernel does the copy.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "src"), []byte("%PDF-1.4 in the kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _ := os.Open(filepath.Join(dir, "src"))
	defer src.Close()
	dst, _ := os.Create(filepath.Join(dir, "dst"))
	defer dst.Close()
	if n, _, ok, err := copyRange(context.Background(), dst, src); !ok || err != nil || n != 22 {
		t.Errorf("copy_file_range on one file system: ok %v, %d bytes, %v", ok, n, err)
	}
}

// copyAndCompare copies src with Copy and checks the copy, its length and
// its hash against data.
func copyAndCompare(t *testing.T, what string, src io.Reader, data []byte) {
	t.Helper()
	dst, err := os.Create(filepath.Join(t.TempDir(), "copy"))
	if err != nil {
		t.Fatal(err)
	}
	sha, n, err := Copy(context.Background(), dst, src)
	dst.Close()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	want := sha256.Sum256(data)
	got, _ := os.ReadFile(dst.Name())
	if n != int64(len(data)) || !bytes.Equal(got, data) || sha != hex.EncodeToString(want[:]) {
		t.Errorf("%s: copied %d bytes, content equal %v, sha %s want %x", what, n, bytes.Equal(got, data), sha, want)
	}
}

// CopyThenHash returns with every byte in place, before the hash may be
// done: what is read from the copy then is the whole content, and the sum
// that follows names it, the same at every call.
func TestCopyThenHash(t *testing.T) {
	data := bytes.Repeat([]byte("%PDF-1.4 page "), 1<<20) // 14 MiB: several chunks either way
	want := sha256.Sum256(data)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "src"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() (io.Reader, func()){
		"file": func() (io.Reader, func()) {
			f, err := os.Open(filepath.Join(dir, "src"))
			if err != nil {
				t.Fatal(err)
			}
			return f, func() { f.Close() }
		},
		"reader": func() (io.Reader, func()) { return bytes.NewReader(data), func() {} },
	} {
		src, done := open()
		dst, err := os.Create(filepath.Join(t.TempDir(), "copy"))
		if err != nil {
			t.Fatal(err)
		}
		n, sum, err := CopyThenHash(context.Background(), dst, src)
		done()
		if err != nil || n != int64(len(data)) {
			t.Fatalf("%s: %d bytes, %v", name, n, err)
		}
		got, err := os.ReadFile(dst.Name())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: the copy is not complete when CopyThenHash returns (%d of %d bytes)", name, len(got), len(data))
		}
		for range 2 {
			if sha, err := sum(); err != nil || sha != hex.EncodeToString(want[:]) {
				t.Errorf("%s: sum %s, %v; want %x", name, sha, err, want)
			}
		}
		dst.Close()
	}
}

func TestCopyFailures(t *testing.T) {
	broken := errors.New("disk gone")
	dst, err := os.Create(filepath.Join(t.TempDir(), "copy"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	src := io.MultiReader(bytes.NewReader(make([]byte, 2*copyChunk)), iotest.ErrReader(broken))
	if sha, _, err := Copy(context.Background(), dst, src); !errors.Is(err, broken) || sha != "" {
		t.Errorf("a failing reader: sha %q, err %v; want no hash and the read error", sha, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Copy(ctx, dst, bytes.NewReader(make([]byte, 10))); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled copy: %v, want context.Canceled", err)
	}

	ro, err := os.Open(dst.Name()) // read-only: every write fails
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, _, err := Copy(context.Background(), ro, bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("a copy into a read-only file succeeded")
	}
}

// Hash names the first n bytes of a file, across chunks, and fails rather
// than names fewer when the file was cut short.
func TestHash(t *testing.T) {
	data := bytes.Repeat([]byte("%PDF-1.4 page "), 1<<20) // 14 MiB: several chunks
	p := filepath.Join(t.TempDir(), "scan.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	want := sha256.Sum256(data)
	if got, err := Hash(ctx, f, int64(len(data))); err != nil || got != hex.EncodeToString(want[:]) {
		t.Errorf("Hash = %s, %v; want %x", got, err, want)
	}
	if err := os.Truncate(p, int64(len(data))/2); err != nil {
		t.Fatal(err)
	}
	if got, err := Hash(ctx, f, int64(len(data))); err == nil {
		t.Errorf("Hash of a file cut short = %s, no error", got)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Hash(cancelled, f, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with a cancelled context: %v", err)
	}
}
