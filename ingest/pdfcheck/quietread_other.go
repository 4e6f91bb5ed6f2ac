//go:build !(linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x))

package pdfcheck

import (
	"io"
	"os"
)

// quietFile is the file itself where raw pread is not wired (see
// quietread_linux.go).
func quietFile(f *os.File) io.ReaderAt { return f }
