package pdfdoc

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.pdf")
	os.WriteFile(p, []byte("%PDF-1.4 twelve"), 0o600)
	if b, err := ReadFile(p, 100); err != nil || string(b) != "%PDF-1.4 twelve" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := ReadFile(p, 5); err == nil {
		t.Error("a file over the cap was read")
	}
	fifo := filepath.Join(dir, "fifo.pdf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fifo, 100); err == nil { // returns at once: a FIFO is never opened
		t.Error("a FIFO was accepted")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.pdf"), 100); err == nil {
		t.Error("a missing file was read")
	}
}
