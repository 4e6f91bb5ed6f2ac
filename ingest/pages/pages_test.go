package pages

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// pageImages returns, per page, the SHA-256 of every image stream of the
// page as stored, sorted by resource name.
func pageImages(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := open(context.Background(), data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := doc.EnsurePageCount(); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for p := 1; p <= doc.PageCount; p++ {
		d, _, inh, err := doc.PageDict(p, true)
		if err != nil || d == nil {
			t.Fatalf("%s page %d: %v", path, p, err)
		}
		out = append(out, imageHashes(t, doc, inh))
	}
	return out
}

func imageHashes(t *testing.T, doc *model.Context, inh *model.InheritedPageAttrs) []string {
	t.Helper()
	if inh == nil || inh.Resources == nil {
		return nil
	}
	xo, err := doc.DereferenceDict(inh.Resources["XObject"])
	if err != nil || xo == nil {
		return nil
	}
	var hs []string
	for _, name := range slices.Sorted(maps.Keys(xo)) {
		sd, _, err := doc.DereferenceStreamDict(xo[name])
		if err != nil || sd == nil {
			continue
		}
		if st := sd.Dict.Subtype(); st == nil || *st != "Image" {
			continue
		}
		sum := sha256.Sum256(sd.Raw)
		hs = append(hs, string(sum[:]))
	}
	return hs
}

func TestExtract(t *testing.T) {
	tests := []struct {
		file  string
		pages []int
	}{
		{"batch_0001.pdf", []int{1, 2}},
		{"batch_0001.pdf", []int{3, 4}},
		{"batch_0001.pdf", []int{6}},
		{"duplex_0001.pdf", []int{1, 2, 4}}, // without the blank backs
		{"scan_0005.pdf", []int{2}},         // CCITT G4
		{"scan_0006.pdf", []int{2, 1}},      // Ghostscript's, reordered
		{"000.00.12.H57-200322-0001.pdf", []int{1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.file, tt.pages), func(t *testing.T) {
			src := filepath.Join(testenv.Corpus(t), tt.file)
			dst := filepath.Join(t.TempDir(), "part.pdf")
			if err := Extract(context.Background(), src, dst, tt.pages); err != nil {
				t.Fatal(err)
			}
			want, got := pageImages(t, src), pageImages(t, dst)
			if len(got) != len(tt.pages) {
				t.Fatalf("%d pages, want %d", len(got), len(tt.pages))
			}
			for i, p := range tt.pages {
				if len(got[i]) == 0 || strings.Join(got[i], "|") != strings.Join(want[p-1], "|") {
					t.Errorf("page %d (source page %d): image streams differ from the source's", i+1, p)
				}
			}
			entries, _ := os.ReadDir(filepath.Dir(dst))
			if len(entries) != 1 {
				t.Errorf("left behind in the target folder: %v", entries)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	notPDF := filepath.Join(dir, "not.pdf")
	if err := os.WriteFile(notPDF, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	batch := filepath.Join(testenv.Corpus(t), "batch_0001.pdf")
	tests := []struct {
		name  string
		src   string
		pages []int
		want  string
	}{
		{"no pages", batch, nil, "no pages"},
		{"page zero", batch, []int{0}, "page number 0"},
		{"twice", batch, []int{1, 1}, "twice"},
		{"past the end", batch, []int{7}, "page 7 of a document of 6 pages"},
		{"missing file", filepath.Join(dir, "missing.pdf"), []int{1}, "no such file"},
		{"not a PDF", notPDF, []int{1}, "read"},
		{"a directory", dir, []int{1}, "not a regular file"},
		{"encrypted", filepath.Join(testenv.Corpus(t), "encrypted 000.00.12.H57-200322-0002.pdf"), []int{1}, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(dir, "out.pdf")
			err := Extract(context.Background(), tt.src, dst, tt.pages)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("%s written after an error", dst)
			}
		})
	}
}

// TestExtractReplaces checks that an existing dst is replaced whole.
func TestExtractReplaces(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "part.pdf")
	if err := os.WriteFile(dst, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Extract(context.Background(), filepath.Join(testenv.Corpus(t), "scan_0003.pdf"), dst, []int{3}); err != nil {
		t.Fatal(err)
	}
	if got := pageImages(t, dst); len(got) != 1 {
		t.Fatalf("%d pages, want 1", len(got))
	}
}

func TestExtractCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := filepath.Join(t.TempDir(), "part.pdf")
	err := Extract(ctx, filepath.Join(testenv.Corpus(t), "batch_0001.pdf"), dst, []int{1})
	if err == nil {
		t.Fatal("no error with a cancelled context")
	}
}

// TestWild extracts the first page of each file of the qpdf test suite:
// an answer for each, no panic, no hang.
func TestWild(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Wild(t), "*.pdf"))
	dst := filepath.Join(t.TempDir(), "out.pdf")
	start := time.Now()
	ok := 0
	for _, f := range files {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := Extract(ctx, f, dst, []int{1})
		cancel()
		if err == nil {
			ok++
		}
	}
	t.Logf("%d of %d files gave a first page in %v", ok, len(files), time.Since(start))
}

// TestNothingWrittenOutside: pdfcpu writes no configuration directory, and
// nothing but dst is left in dst's folder.
func TestNothingWrittenOutside(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	dir := t.TempDir()
	dst := filepath.Join(dir, "part.pdf")
	if err := Extract(context.Background(), filepath.Join(testenv.Corpus(t), "batch_0001.pdf"), dst, []int{5, 6}); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(home); len(left) != 0 {
		t.Errorf("written under HOME: %v", left)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("in the target folder: %v", left)
	}
}
