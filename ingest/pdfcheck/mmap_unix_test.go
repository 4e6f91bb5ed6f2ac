//go:build unix

package pdfcheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShrunkFile truncates a mapped file before it is inspected: the fault
// must become an error (the caller retries), not a crash or a verdict.
func TestShrunkFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(src, buildPDF([]testPage{{box: a4, images: [][2]int{{1654, 2339}}}}, intact), 0o600); err != nil {
		t.Fatal(err)
	}
	in, res, err := load(src, DefaultMaxBytes, false)
	if err != nil || res.Reason != "" {
		t.Fatalf("load: %+v %v", res, err)
	}
	if err := os.Truncate(src, 0); err != nil {
		t.Fatal(err)
	}
	v, err := inspectBounded(context.Background(), Limits{}.withDefaults(), nil, in)
	if err == nil || !strings.Contains(err.Error(), "file changed while being read") {
		t.Fatalf("got %+v, %v; want an error", v.res, err)
	}
}
