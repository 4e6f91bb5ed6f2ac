package hostilepdf

import (
	"bytes"
	"compress/zlib"
	"io"
	"testing"
)

func TestZeros(t *testing.T) {
	for _, n := range []int64{10, 1 << 20, 3 << 20} {
		r, err := zlib.NewReader(bytes.NewReader(Zeros(n, 0xff)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil || int64(len(b)) != n || bytes.Count(b, []byte{0xff}) != len(b) {
			t.Fatalf("Zeros(%d): %d bytes, %v", n, len(b), err)
		}
	}
}
