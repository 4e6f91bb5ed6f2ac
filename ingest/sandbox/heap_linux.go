//go:build !race

package sandbox

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// hugeHeap makes the next n bytes of the process's heap come in
// transparent huge pages where the system allows them (THP "always" or
// "madvise", the usual settings), so that a parse touching fresh heap takes
// one page fault per 2 MiB instead of one per 4 KiB.
//
// Why: a parse copies every stream of the file into new heap memory
// (pdfcpu's readStreamContent), and in a young process that memory is
// faulted in page by page. Page faults are costly in virtual machines,
// where they took a large share of fresh parser processes' CPU time in
// `.ci/bench.sh`'s burst (docs/benchmarks.md). The Go runtime no longer
// asks for huge pages for its heap (since Go 1.21.1), so the parser asks
// for them itself, once: it allocates n
// bytes, which maps that much heap address space without touching it,
// marks the mapping MADV_HUGEPAGE, and frees it again; later allocations
// reuse that address space. A mark on a mapping the runtime replaces later
// (it maps heap it grows into afresh) is lost, so the heap beyond n gets
// small pages as before. The memory is not resident until used; resident
// memory may round up to 2 MiB steps, which the parser's memory limit
// (Limits.Memory) counts like any other.
//
// A system without transparent huge pages refuses the advice (EINVAL); the
// parser then runs as before. The result is returned for tests. Not in
// race-detector builds (heap_other.go): the detector keeps shadow memory for
// the heap, and there huge pages only pushed a small scan's parser over a
// 64 MiB cap (TestLimits under -race).
func hugeHeap(n int) error {
	b := make([]byte, n)
	err := unix.Madvise(b, unix.MADV_HUGEPAGE)
	runtime.KeepAlive(b) // the last use of b: the collection below frees it
	runtime.GC()         // b's space back to the heap, and the heap goal back to what is live
	return err
}
