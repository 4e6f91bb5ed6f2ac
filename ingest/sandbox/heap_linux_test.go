//go:build !race

package sandbox

import (
	"bytes"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// TestHugeHeap: after hugeHeap, fresh heap memory is faulted in huge pages,
// as a parse's stream copies are. In small pages touching 32 MiB takes 8192
// page faults; in huge pages 16, plus the collector's own.
func TestHugeHeap(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || bytes.Contains(mode, []byte("[never]")) {
		t.Skipf("no transparent huge pages here (%q, %v)", bytes.TrimSpace(mode), err)
	}
	if err := hugeHeap(hugeHeapSize); err != nil {
		t.Fatalf("hugeHeap: %v", err)
	}
	const n = 32 << 20
	before := minorFaults(t)
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	faults := minorFaults(t) - before
	runtime.KeepAlive(b)
	t.Logf("%d page faults touching %d MiB of fresh heap", faults, n>>20)
	if small := int64(n / 4096); faults > small/4 {
		t.Errorf("%d page faults touching %d MiB of fresh heap, want well under the %d of small pages", faults, n>>20, small)
	}
}

func minorFaults(t *testing.T) int64 {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}
