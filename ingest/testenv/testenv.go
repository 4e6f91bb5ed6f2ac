// Package testenv tells tests what their environment holds: the Debian
// tools they run, the project's own corpus under testdata/, and the larger
// material of ../shared beside the clone. What a test needs and does not
// find skips it, or fails it under CI (CI=true), where everything is
// installed and a skip would hide a test that never ran.
package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (the environment variable CI is
// set, as .ci/run sets it): there, what a test needs is present.
func CI() bool { return os.Getenv("CI") != "" }

// skipOrFail skips the test with msg, or fails it under CI.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg + " (CI=true: it must be there)")
	}
	t.Skip(msg)
}

// NeedTool returns the path of the command name, which Debian's package
// debianPackage installs; without it the test is skipped, or fails under CI.
func NeedTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, fmt.Sprintf("%s not installed (Debian package %s): %v", name, debianPackage, err))
	}
	return p
}

// OptionalTool returns the path of the command name, from Debian's package
// debianPackage, or skips the test without it, under CI too: CI does not
// install it (LibreOffice, say), and the test is a comparison a person runs.
func OptionalTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s; CI does not install it): %v", name, debianPackage, err)
	}
	return p
}

// NeedFile skips the test when the file at path, which Debian's package
// debianPackage installs (a font, say), is missing, or fails it under CI.
func NeedFile(t testing.TB, path, debianPackage string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		skipOrFail(t, fmt.Sprintf("%v (Debian package %s)", err, debianPackage))
	}
}

// Root returns the module's root folder: the nearest folder holding go.mod,
// from the test's working folder (its package's) up.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testenv: working folder: %v", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("testenv: no go.mod in %s or above", dir)
		}
	}
}

// Corpus returns the folder of the project's own corpus, testdata/corpus:
// realistic scans, good and bad, which Expected describes.
func Corpus(t testing.TB) string {
	t.Helper()
	return filepath.Join(Root(t), "testdata", "corpus")
}

// Mkscan returns the path of testdata/mkscan.sh, the generator of scans,
// once every command it runs is there (else the test is skipped, or fails
// under CI). Run it with bash.
func Mkscan(t testing.TB) string {
	t.Helper()
	// The commands mkscan.sh runs, with the Debian package of each.
	for _, tool := range [][2]string{
		{"bash", "bash"}, {"convert", "imagemagick"}, {"img2pdf", "img2pdf"}, {"tiff2pdf", "libtiff-tools"},
		{"tiffcp", "libtiff-tools"}, {"gs", "ghostscript"}, {"qrencode", "qrencode"}, {"zint", "zint"},
	} {
		NeedTool(t, tool[0], tool[1])
	}
	return filepath.Join(Root(t), "testdata", "mkscan.sh")
}

// Sample is one row of testdata/corpus/expected.tsv: what should become of
// one file of the corpus.
type Sample struct {
	File    string   // the file's name in Corpus
	Verdict string   // "valid" or "invalid"
	Codes   []string // the dossier codes it is linked to, in order; nil for "-"
	Note    string   // what the file is
}

// Expected reads testdata/corpus/expected.tsv, in its order.
func Expected(t testing.TB) []Sample {
	t.Helper()
	p := filepath.Join(Corpus(t), "expected.tsv")
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer f.Close()
	var rows []Sample
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if line == 1 || strings.TrimSpace(sc.Text()) == "" {
			continue // the header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 {
			t.Fatalf("testenv: %s line %d: %d fields, want 4", p, line, len(c))
		}
		r := Sample{File: c[0], Verdict: c[1], Note: c[3]}
		if c[2] != "-" {
			r.Codes = strings.Split(c[2], ",")
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("testenv: %s: %v", p, err)
	}
	return rows
}

// Shared returns the path of elem in ../shared beside the module's root,
// whether it is there or not.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Root(t), "..", "shared"}, elem...)...)
}

// WildPath returns the folder of the wild corpus, ../shared/corpus/wild/qpdf,
// whether it is there or not (fuzz targets take seeds from it when it is).
func WildPath(t testing.TB) string {
	t.Helper()
	return Shared(t, "corpus", "wild", "qpdf")
}

// Wild returns the folder of the wild corpus: the 703 PDFs of qpdf's test
// suite, many damaged on purpose, in ../shared/corpus/wild/qpdf beside the
// clone, too large to keep in the project. Without them the test is
// skipped, or fails under CI. Under the race detector it is skipped: a sweep
// of 703 files one after the other is a parser's test, not a concurrent
// one, which `go test` runs, and with -race it would take many minutes.
func Wild(t testing.TB) string {
	t.Helper()
	SkipUnderRace(t, "a sweep of the wild corpus, one file after the other")
	dir := WildPath(t)
	if files, _ := filepath.Glob(filepath.Join(dir, "*.pdf")); len(files) == 0 {
		skipOrFail(t, fmt.Sprintf("needs the wild corpus (qpdf's test PDFs) in ../shared/corpus/wild/qpdf beside the clone: no PDF in %s", dir))
	}
	return dir
}

// SkipUnderRace skips the test when it is built with -race: why says what
// the test is (a parser's memory limits, a timing, a sweep), which the race
// detector's own memory and slowness would break or take many minutes over,
// and which `go test` runs without it.
func SkipUnderRace(t testing.TB, why string) {
	t.Helper()
	if raceEnabled {
		t.Skipf("%s: run without -race", why)
	}
}

// NeedRoot skips the test unless it runs as root, or fails it under CI,
// which runs as root; what says what needs it.
func NeedRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, what+" needs root")
	}
}
