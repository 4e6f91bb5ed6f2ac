//go:build !linux

package sandbox

// hugeHeap does nothing: the parser process runs only on Linux (see
// limitProcess).
func hugeHeap(int) error { return nil }
