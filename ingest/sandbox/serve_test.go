package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestHeapLimit: the collector of a parser runs at a heap of 16 MiB plus
// three times the file's size, never above 3/4 of the process's cap.
func TestHeapLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(size int64) string {
		p := filepath.Join(dir, fmt.Sprint(size))
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		path   string
		memory int64
		want   int64
	}{
		{"small file", file(1000), 1 << 30, 16<<20 + 3000},
		{"20-page scan", file(8 << 20), 1 << 30, 40 << 20},
		{"over the cap", file(30 << 20), 100 << 20, 75 << 20},
		{"small cap", file(1000), 16 << 20, 12 << 20},
		{"gone", filepath.Join(dir, "missing"), 1 << 30, 16 << 20},
	} {
		if got := heapLimit(tc.path, tc.memory); got != tc.want {
			t.Errorf("%s: heapLimit = %d, want %d", tc.name, got, tc.want)
		}
	}
}
