package pdfcheck

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/testenv"
)

const saneSample = "000.00.12.H57-200322-0001.pdf"

// perFileBound is the most one Check may take in these tests; the parse
// budget below it turns a slow file into a verdict rather than an error.
const perFileBound = 10 * time.Second

func testChecker() *Checker { return &Checker{Limits: Limits{MaxTime: 5 * time.Second}} }

// check runs Check with the per-file bound and fails the test on an error.
func check(t testing.TB, src, dst string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), perFileBound)
	defer cancel()
	start := time.Now()
	res, err := testChecker().Check(ctx, src, dst)
	if err != nil {
		t.Fatalf("Check(%s): %v", filepath.Base(src), err)
	}
	if d := time.Since(start); d > perFileBound {
		t.Fatalf("Check(%s) took %s", filepath.Base(src), d)
	}
	return res
}

// sampleReasons maps the invalid samples to the reason they must get.
var sampleReasons = map[string]reason.Code{
	"lowres_0001.pdf":                              reason.LowDPI,
	"encrypted 000.00.12.H57-200322-0002.pdf":      reason.Encrypted,
	"truncated 000.00.12.H57-200322-0003.pdf":      reason.Unreadable,
	"empty 000.00.12.H57-200322-0004.pdf":          reason.Empty,
	"jpeg-named-pdf 000.00.12.H57-200322-0005.pdf": reason.NotPDF,
}

func TestSamples(t *testing.T) {
	samples, samplesDir := testenv.Expected(t), testenv.Corpus(t)
	pdfs, _ := filepath.Glob(filepath.Join(samplesDir, "*.pdf"))
	if len(pdfs) != len(samples) {
		t.Errorf("%d PDFs in %s but %d rows in expected.tsv", len(pdfs), samplesDir, len(samples))
	}
	for _, s := range samples {
		t.Run(s.File, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "repaired.pdf")
			res := check(t, filepath.Join(samplesDir, s.File), dst)
			t.Logf("%+v", res)
			if s.Verdict == "invalid" {
				want, ok := sampleReasons[s.File]
				if !ok {
					t.Fatalf("no expected reason for invalid sample %q", s.File)
				}
				if res.Reason != want {
					t.Fatalf("reason %q (%s), want %q", res.Reason, res.Detail, want)
				}
				if want == reason.LowDPI && math.Abs(res.MinDPI-100) > 1 {
					t.Errorf("MinDPI %.1f, want about 100", res.MinDPI)
				}
				return
			}
			if res.Reason != "" {
				t.Fatalf("rejected as %q: %s", res.Reason, res.Detail)
			}
			if res.Pages == 0 || res.MinDPI < 200 {
				t.Errorf("Pages %d, MinDPI %.2f: want pages and at least 200 dpi", res.Pages, res.MinDPI)
			}
			_, statErr := os.Stat(dst)
			if s.File != saneSample {
				if res.Repaired || statErr == nil {
					t.Fatalf("a valid file was rewritten (Repaired %v, copy exists %v)", res.Repaired, statErr == nil)
				}
				return
			}
			if !res.Repaired || statErr != nil {
				t.Fatalf("SANE file: Repaired %v, copy: %v", res.Repaired, statErr)
			}
			again := check(t, dst, filepath.Join(t.TempDir(), "again.pdf"))
			if again.Reason != "" || again.Repaired || again.Pages != res.Pages || again.MinDPI != res.MinDPI {
				t.Fatalf("repaired copy re-checks as %+v, want valid %+v without repair", again, res)
			}
		})
	}
}

// TestWild runs every damaged and odd PDF of qpdf's test suite: each must
// get a verdict, without panic or error, within the per-file bound.
func TestWild(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Wild(t), "*.pdf"))
	counts := map[string]int{}
	repaired := 0
	dir := t.TempDir()
	for _, f := range files {
		dst := filepath.Join(dir, filepath.Base(f))
		res := check(t, f, dst)
		if res.Reason == "" {
			counts["valid"]++
		} else {
			counts[string(res.Reason)]++
		}
		if res.Repaired {
			repaired++
			if again := check(t, dst, dst+".again"); again.Reason != "" || again.Repaired {
				t.Errorf("%s: repaired copy re-checks as %+v", filepath.Base(f), again)
			}
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("%-11s %4d", k, counts[k])
	}
	t.Logf("%d files, %d repaired", len(files), repaired)
}

// TestPanicRecovered uses a file on which pdfcpu v0.15.0 dereferences nil.
func TestPanicRecovered(t *testing.T) {
	res := check(t, filepath.Join(testenv.Wild(t), "xref-compressed-in-compressed.pdf"), filepath.Join(t.TempDir(), "x.pdf"))
	if res.Reason != reason.Unreadable || !strings.HasPrefix(res.Detail, "parser panic: ") {
		t.Fatalf("got %+v, want unreadable after a parser panic", res)
	}
}

const (
	a4 = "0 0 595.276 841.89"
	a3 = "0 0 841.89 1190.55"
)

func TestResolution(t *testing.T) {
	scan200 := testPage{box: a4, images: [][2]int{{1654, 2339}}}
	scan100 := testPage{box: a4, images: [][2]int{{827, 1169}}}
	tests := []struct {
		name      string
		pages     []testPage
		broken    brokenKind
		reason    reason.Code
		detail    string // prefix
		wantPages int
		minDPI    float64
		repaired  bool
	}{
		{name: "A4 at 200 dpi", pages: []testPage{scan200}, wantPages: 1, minDPI: 200},
		{name: "image smaller than page", pages: []testPage{scan100}, reason: reason.LowDPI,
			detail: "page 1: 100 dpi below 200", wantPages: 1, minDPI: 100},
		{name: "Rotate 90 with landscape pixels", pages: []testPage{{box: a4, rotate: 90, images: [][2]int{{2339, 1654}}}},
			wantPages: 1, minDPI: 200},
		{name: "landscape page, portrait image drawn rotated", pages: []testPage{{box: "0 0 841.89 595.276", images: [][2]int{{1654, 2339}}}},
			wantPages: 1, minDPI: 200},
		{name: "lower axis counts", pages: []testPage{{box: a4, images: [][2]int{{1240, 2339}}}}, reason: reason.LowDPI,
			detail: "page 1: 150 dpi below 200", wantPages: 1, minDPI: 150},
		{name: "largest image is the scan", pages: []testPage{{box: a4, images: [][2]int{{64, 64}, {1654, 2339}, {300, 20}}}},
			wantPages: 1, minDPI: 200},
		{name: "image inside a form XObject", pages: []testPage{{box: a4, inForm: true, images: [][2]int{{827, 1169}}}},
			reason: reason.LowDPI, wantPages: 1, minDPI: 100},
		{name: "CropBox within MediaBox", pages: []testPage{{box: a3, crop: a4, images: [][2]int{{1654, 2339}}}},
			wantPages: 1, minDPI: 200},
		{name: "inherited MediaBox", pages: []testPage{{box: a4, inheritBox: true, images: [][2]int{{1654, 2339}}}},
			wantPages: 1, minDPI: 200},
		{name: "199.7 dpi rounds to 200", pages: []testPage{{box: a4, images: [][2]int{{1651, 2336}}}}, wantPages: 1, minDPI: 199.7},
		{name: "199.3 dpi is low", pages: []testPage{{box: a4, images: [][2]int{{1648, 2332}}}}, reason: reason.LowDPI,
			detail: "page 1: 199 dpi below 200", wantPages: 1, minDPI: 199.3},
		{name: "second page low", pages: []testPage{scan200, scan100, scan200}, reason: reason.LowDPI,
			detail: "page 2: 100 dpi below 200", wantPages: 3, minDPI: 100},
		{name: "born-digital page not judged", pages: []testPage{{box: a4}, scan200}, wantPages: 2, minDPI: 200},
		{name: "no images at all", pages: []testPage{{box: a4}}, wantPages: 1, minDPI: 0},
		{name: "no pages", reason: reason.NoPages},
		{name: "SANE-style xref repaired", pages: []testPage{scan200, scan200}, broken: zeroXref,
			wantPages: 2, minDPI: 200, repaired: true},
		{name: "cut between objects is not repaired", pages: []testPage{scan200, scan200}, broken: cutBeforeXref,
			reason: reason.Unreadable, detail: "truncated"},
		{name: "too large", pages: []testPage{scan200}, reason: reason.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "in.pdf")
			if err := os.WriteFile(src, buildPDF(tt.pages, tt.broken), 0o600); err != nil {
				t.Fatal(err)
			}
			c := testChecker()
			if tt.reason == reason.TooLarge {
				c.Limits.MaxBytes = 100
			}
			dst := filepath.Join(dir, "out.pdf")
			res, err := c.Check(context.Background(), src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if res.Reason != tt.reason || !strings.HasPrefix(res.Detail, tt.detail) {
				t.Fatalf("got %q %q, want %q %q", res.Reason, res.Detail, tt.reason, tt.detail)
			}
			if res.Reason == reason.TooLarge {
				return
			}
			if res.Pages != tt.wantPages || math.Abs(res.MinDPI-tt.minDPI) > 0.1 || res.Repaired != tt.repaired {
				t.Fatalf("got %+v, want %d pages, %.1f dpi, repaired %v", res, tt.wantPages, tt.minDPI, tt.repaired)
			}
		})
	}
}

// TestPasswords encrypts a generated scan with pdfcpu: an owner password
// alone (permissions) is fine, a user password is not.
func TestPasswords(t *testing.T) {
	plain := buildPDF([]testPage{{box: a4, images: [][2]int{{1654, 2339}}}}, intact)
	for _, tt := range []struct {
		name, user string
		want       reason.Code
	}{
		{"owner password only", "", ""},
		{"user password", "secret", reason.Encrypted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conf := pdfConfig(Limits{}.withDefaults())
			conf.UserPW, conf.OwnerPW = tt.user, "owner"
			var out bytes.Buffer
			if err := api.Encrypt(bytes.NewReader(plain), &out, conf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out.Bytes(), []byte("/Encrypt")) {
				t.Fatal("pdfcpu wrote no /Encrypt")
			}
			src := filepath.Join(t.TempDir(), "enc.pdf")
			if err := os.WriteFile(src, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			res := check(t, src, filepath.Join(t.TempDir(), "x.pdf"))
			if res.Reason != tt.want || (tt.want == "" && (res.Pages != 1 || math.Round(res.MinDPI) != 200)) {
				t.Fatalf("got %+v, want reason %q", res, tt.want)
			}
		})
	}
}

// TestRotatedSample rotates a real scan with pdfcpu: its dpi must not change.
func TestRotatedSample(t *testing.T) {
	src := filepath.Join(testenv.Corpus(t), "scan_0003.pdf")
	want := check(t, src, "")
	for _, rot := range []int{90, 180, 270} {
		in, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := api.Rotate(bytes.NewReader(in), &out, rot, nil, pdfConfig(Limits{}.withDefaults())); err != nil {
			t.Fatalf("rotate %d: %v", rot, err)
		}
		if got := pageRotation(t, out.Bytes()); got != rot {
			t.Fatalf("rotate %d: page 1 has /Rotate %d", rot, got)
		}
		rotated := filepath.Join(t.TempDir(), "rotated.pdf")
		if err := os.WriteFile(rotated, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		got := check(t, rotated, filepath.Join(t.TempDir(), "x.pdf"))
		if got.Reason != "" || got.Repaired || got.Pages != want.Pages || got.MinDPI != want.MinDPI {
			t.Errorf("rotate %d: got %+v, want %+v", rot, got, want)
		}
	}
}

func pageRotation(t *testing.T, pdf []byte) int {
	t.Helper()
	doc, err := pdfcpu.Read(bytes.NewReader(pdf), pdfConfig(Limits{}.withDefaults()))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.EnsurePageCount(); err != nil {
		t.Fatal(err)
	}
	_, _, inh, err := doc.PageDict(1, false)
	if err != nil {
		t.Fatal(err)
	}
	return inh.Rotate
}

func TestErrorsAreOnlyOurs(t *testing.T) {
	dir := t.TempDir()
	var c Checker
	if _, err := c.Check(context.Background(), filepath.Join(dir, "missing.pdf"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing src: err %v, want not-exist", err)
	}
	sane := filepath.Join(testenv.Corpus(t), saneSample)
	if _, err := c.Check(context.Background(), sane, filepath.Join(dir, "no", "such", "dir.pdf")); err == nil {
		t.Error("unwritable repairedDst: no error")
	}
	if res, err := c.Check(context.Background(), dir, ""); err != nil || res.Reason != reason.NotRegular {
		t.Errorf("directory: %+v %v, want not_regular", res, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Check(ctx, sane, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err %v", err)
	}
	// Dry run: repaired in memory and judged, nothing written.
	if res, err := c.Check(context.Background(), sane, ""); err != nil || !res.Repaired || res.Reason != "" {
		t.Errorf("dry run of the SANE file: %+v %v", res, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left behind in %s: %v", dir, left)
	}
}

// TestNothingWrittenOutside checks that pdfcpu creates no configuration
// directory (the daemon runs with ProtectHome) and Check leaves no
// temporary files next to repairedDst.
func TestNothingWrittenOutside(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	out := t.TempDir()
	// The wild corpus too when it is beside the clone.
	pdfs, _ := filepath.Glob(filepath.Join(testenv.Corpus(t), "*.pdf"))
	wild, _ := filepath.Glob(filepath.Join(testenv.WildPath(t), "*.pdf"))
	for _, f := range append(pdfs, wild...) {
		check(t, f, filepath.Join(out, "repaired.pdf"))
	}
	if left, _ := os.ReadDir(home); len(left) != 0 {
		t.Errorf("written under HOME: %v", left)
	}
	left, _ := os.ReadDir(out)
	if len(left) != 1 || left[0].Name() != "repaired.pdf" {
		t.Errorf("in the output directory: %v, want only repaired.pdf", left)
	}
}

func TestXRefProblem(t *testing.T) {
	good := buildPDF([]testPage{{box: a4}}, intact)
	tests := []struct {
		name string
		data []byte
		want string // substring; "" means intact
	}{
		{"intact", good, ""},
		{"startxref 0", buildPDF([]testPage{{box: a4}}, zeroXref), "startxref offset 0"},
		{"no startxref", good[:bytes.LastIndex(good, []byte("startxref"))], "no startxref"},
		{"entry points at garbage", bytes.Replace(good, []byte("0000000009 00000 n"), []byte("0000000011 00000 n"), 1), "object 1: offset 11"},
		{"Prev loop", bytes.Replace(good, []byte("/Size"), []byte("/Prev "+startxrefOf(good)+" /Size"), 1), "loop"},
		{"Prev not an offset", bytes.Replace(good, []byte("/Size"), []byte("/Prev [1] /Size"), 1), "/Prev is not an offset"},
		{"xref stream", xrefStreamPDF(), ""},
	}
	for _, tt := range tests {
		got := xrefProblem(tt.data)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func startxrefOf(b []byte) string {
	s := string(b[bytes.LastIndex(b, []byte("startxref"))+len("startxref"):])
	return strings.Fields(s)[0]
}

// xrefStreamPDF is a minimal file with a cross-reference stream, written by
// pdfcpu itself.
func xrefStreamPDF() []byte {
	in := buildPDF([]testPage{{box: a4}}, intact)
	var out bytes.Buffer
	if err := api.Optimize(bytes.NewReader(in), &out, pdfConfig(Limits{}.withDefaults())); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// fuzzSeeds are wild files always added to the seeds, whatever their size.
var fuzzSeeds = []string{"xref-compressed-in-compressed.pdf", "bad-xref-entry.pdf", "issue-149.pdf",
	"zero-offset.pdf", "append-xref-loop.pdf", "leading-junk.pdf", "V4-aes.pdf", "deep-pages.pdf"}

// fuzzSeedMax is the size up to which every wild file is a seed: larger
// ones (big images) only slow each execution down.
const fuzzSeedMax = 32 << 10

// FuzzCheck is seeded with the corpus: every sample scan, and qpdf's damaged
// and odd files (those up to fuzzSeedMax, and fuzzSeeds).
func FuzzCheck(f *testing.F) {
	wildDir := testenv.Wild(f)
	seeds, _ := filepath.Glob(filepath.Join(testenv.Corpus(f), "*.pdf"))
	for _, s := range fuzzSeeds {
		seeds = append(seeds, filepath.Join(wildDir, s))
	}
	wild, _ := filepath.Glob(filepath.Join(wildDir, "*.pdf"))
	for _, s := range wild {
		if fi, err := os.Stat(s); err == nil && fi.Size() <= fuzzSeedMax && !slices.Contains(fuzzSeeds, filepath.Base(s)) {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) < len(fuzzSeeds)+100 {
		f.Fatalf("only %d seeds: is the corpus beside the repository?", len(seeds))
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		res := check(t, src, dst)
		if res.Reason == "" && res.Pages == 0 {
			t.Fatalf("valid without pages: %+v", res)
		}
		if res.Repaired {
			if again := check(t, dst, dst+".again"); again.Reason != "" || again.Repaired {
				t.Fatalf("repaired copy re-checks as %+v", again)
			}
		}
	})
}

func validSamples(b *testing.B) (files []string, size int64) {
	for _, s := range testenv.Expected(b) {
		if s.Verdict != "valid" {
			continue
		}
		f := filepath.Join(testenv.Corpus(b), s.File)
		fi, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		files, size = append(files, f), size+fi.Size()
	}
	return files, size
}

// BenchmarkCheck checks every valid sample once per iteration.
func BenchmarkCheck(b *testing.B) {
	files, size := validSamples(b)
	dst := filepath.Join(b.TempDir(), "repaired.pdf")
	var c Checker
	b.SetBytes(size)
	for b.Loop() {
		for _, f := range files {
			if res, err := c.Check(context.Background(), f, dst); err != nil || res.Reason != "" {
				b.Fatalf("%s: %+v %v", f, res, err)
			}
		}
	}
}

// BenchmarkPDFCPUValidate is the in-process equivalent of `pdfcpu validate`
// (relaxed mode, no optimization) on the same files.
func BenchmarkPDFCPUValidate(b *testing.B) {
	files, size := validSamples(b)
	b.SetBytes(size)
	for b.Loop() {
		for _, f := range files {
			if err := api.ValidateFile(f, pdfConfig(Limits{}.withDefaults())); err != nil {
				b.Fatalf("%s: %v", f, err)
			}
		}
	}
}
