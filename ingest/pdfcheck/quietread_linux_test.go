//go:build linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package pdfcheck

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestQuietReaderReadAt: the raw pread answers as os.File.ReadAt does,
// short reads at the end of the file included.
func TestQuietReaderReadAt(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 40000) // 640,000 bytes
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	q := quietFile(f)
	for _, tc := range []struct {
		name     string
		off, len int64
	}{
		{"whole file", 0, int64(len(data))},
		{"middle", 12345, 300000},
		{"one byte", 639999, 1},
		{"across the end", 639000, 4096},
		{"at the end", 640000, 10},
		{"past the end", 700000, 10},
	} {
		want := make([]byte, tc.len)
		wn, werr := f.ReadAt(want, tc.off)
		got := make([]byte, tc.len)
		gn, gerr := q.ReadAt(got, tc.off)
		if gn != wn || !bytes.Equal(got[:gn], want[:wn]) || errors.Is(gerr, io.EOF) != errors.Is(werr, io.EOF) || (gerr == nil) != (werr == nil) {
			t.Errorf("%s: quiet read %d bytes, %v; os.File %d bytes, %v", tc.name, gn, gerr, wn, werr)
		}
	}
}

// TestQuietReadsSameVerdicts: every sample and every file of qpdf's test
// suite gets the same verdict whether pdfcpu reads through raw preads or
// through os.File.
func TestQuietReadsSameVerdicts(t *testing.T) {
	samples, _ := filepath.Glob(filepath.Join(testenv.Corpus(t), "*.pdf"))
	wild, _ := filepath.Glob(filepath.Join(testenv.Wild(t), "*.pdf"))
	if len(samples) == 0 || len(wild) == 0 {
		t.Fatalf("%d samples, %d wild files: corpus missing", len(samples), len(wild))
	}
	plain, quiet := testChecker(), testChecker()
	quiet.QuietReads = true
	dir := t.TempDir()
	for _, f := range append(samples, wild...) {
		want, werr := plain.Check(context.Background(), f, filepath.Join(dir, "plain.pdf"))
		got, gerr := quiet.Check(context.Background(), f, filepath.Join(dir, "quiet.pdf"))
		if werr != nil || gerr != nil {
			t.Fatalf("%s: errors %v, %v", filepath.Base(f), werr, gerr)
		}
		if got.Reason != want.Reason || got.Pages != want.Pages || got.MinDPI != want.MinDPI || got.Repaired != want.Repaired {
			t.Errorf("%s: quiet reads %+v, os.File %+v", filepath.Base(f), got, want)
		}
	}
}
