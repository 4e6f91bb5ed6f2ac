//go:build !linux || race

package sandbox

// hugeHeap does nothing: the parser process runs only on Linux (see
// limitProcess), and huge pages are not asked for under the race detector
// (see heap_linux.go).
func hugeHeap(int) error { return nil }
