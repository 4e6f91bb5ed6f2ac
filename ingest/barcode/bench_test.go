package barcode

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// samplePage is one page image of a sample and the code it carries.
type samplePage struct {
	name string  // file:page
	job  pageJob // what decoding it needs
	want string  // the code on it; "" for none
}

// loadPages prepares the page images of a file; want gives the code of
// each page (by index from 1), "" for none.
func loadPages(tb testing.TB, path string, want func(page int) string) []samplePage {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	pages, jobs, err := prepare(context.Background(), data)
	if err != nil {
		tb.Fatal(err)
	}
	var out []samplePage
	for i, p := range pages {
		if !p.Image {
			continue
		}
		out = append(out, samplePage{name: fmt.Sprintf("%s:%d", filepath.Base(path), p.Index), job: jobs[i], want: want(p.Index)})
	}
	return out
}

// receiptPages are the receipt pages of the corpus samples.
func receiptPages(tb testing.TB) []samplePage {
	var out []samplePage
	for _, s := range []struct {
		file  string
		codes map[int]string
	}{
		{"scan_0003.pdf", map[int]string{1: "000.00.12.H57-200320-0003"}},
		{"scan_0004.pdf", map[int]string{1: "000.00.12.H57-200320-0004"}},
		{"scan_0005.pdf", map[int]string{1: "000.00.12.H57-200320-0005"}},
		{"scan_0006.pdf", map[int]string{1: "000.00.12.H57-200320-0006"}},
		{"batch_0001.pdf", map[int]string{1: "000.00.12.H57-200321-0001", 3: "000.00.12.H57-200321-0002", 5: "000.00.12.H57-200321-0003"}},
		{"duplex_0001.pdf", map[int]string{1: "000.00.12.H57-200321-0004"}},
	} {
		for _, p := range loadPages(tb, filepath.Join(testenv.Corpus(tb), s.file), func(n int) string { return s.codes[n] }) {
			if p.want != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// BenchmarkReadPage reads each receipt page of the corpus: decoding the
// page image from its stream, the blank test and the code search. For
// comparison, a page without a code (all the steps run) and a blank back.
func BenchmarkReadPage(b *testing.B) {
	g, err := dossier.NewGrammar("")
	if err != nil {
		b.Fatal(err)
	}
	pages := receiptPages(b)
	content := loadPages(b, filepath.Join(testenv.Corpus(b), "scan_0009.pdf"), func(int) string { return "" })
	duplex := loadPages(b, filepath.Join(testenv.Corpus(b), "duplex_0001.pdf"), func(int) string { return "" })
	pages = append(pages, content[0], duplex[2])
	var r Reader
	for _, sp := range pages {
		b.Run(sp.name, func(b *testing.B) {
			for b.Loop() {
				var p Page
				r.page(context.Background(), &p, sp.job, g)
				if sp.want != "" && (len(p.Codes) != 1 || p.Codes[0].Code != sp.want) {
					b.Fatalf("%+v, want %s", p, sp.want)
				}
			}
		})
	}
}

// TestCompareZbar compares this package with zbarimg (zbar-tools) on the
// same page images: the receipt pages of the corpus and of the generated set,
// and the pages without a code. Each page image is decoded here and written
// as a PGM file for zbarimg; this package's time is from the stored stream
// (image decoding included), zbarimg's is the whole process, start-up
// included. A page is right when exactly its code is found (after the code
// grammar, for both). Run it alone with
//
//	go test -run TestCompareZbar -v ./ingest/barcode/
func TestCompareZbar(t *testing.T) {
	testenv.NeedTool(t, "zbarimg", "zbar-tools")
	g, err := dossier.NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	pages := receiptPages(t)
	for _, f := range []string{"scan_0003.pdf", "scan_0005.pdf", "batch_0001.pdf", "duplex_0001.pdf", "scan_0009.pdf"} {
		for _, p := range loadPages(t, filepath.Join(testenv.Corpus(t), f), func(int) string { return "" }) {
			if !slices.ContainsFunc(pages, func(q samplePage) bool { return q.name == p.name }) {
				pages = append(pages, p)
			}
		}
	}
	specs, files := gen.scans(t)
	for i, s := range specs {
		pages = append(pages, loadPages(t, files[i], func(n int) string {
			if n == 1 {
				return s.code
			}
			return ""
		})...)
	}

	dir := t.TempDir()
	valid := codesIn(g)
	var r Reader
	type tally struct {
		right, receiptsRight, receipts, wrong int
		total                                 time.Duration
		times                                 []time.Duration
	}
	var ours, zbar tally
	for _, sp := range pages {
		// This package.
		start := time.Now()
		var p Page
		r.page(context.Background(), &p, sp.job, g)
		d := time.Since(start)
		var got []string
		for _, f := range p.Codes {
			got = append(got, f.Code)
		}
		okOurs := score(&ours.right, &ours.receiptsRight, &ours.receipts, &ours.wrong, got, sp.want)
		ours.total += d
		ours.times = append(ours.times, d)

		// zbarimg on the same image.
		img, err := decodeImage(sp.job.prm, sp.job.raw, DefaultMaxPixels)
		if err != nil {
			t.Fatalf("%s: %v", sp.name, err)
		}
		pgm := filepath.Join(dir, "page.pgm")
		if err := writePGM(pgm, img); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		out, _ := exec.Command("zbarimg", "-q", "--raw", pgm).Output() // exit 4: nothing found
		dz := time.Since(start)
		var zgot []string
		for _, line := range strings.Split(string(out), "\n") {
			for _, c := range valid(line) {
				if !slices.Contains(zgot, c) {
					zgot = append(zgot, c)
				}
			}
		}
		okZbar := score(&zbar.right, &zbar.receiptsRight, &zbar.receipts, &zbar.wrong, zgot, sp.want)
		zbar.total += dz
		zbar.times = append(zbar.times, dz)
		t.Logf("%-50s %5dx%-5d ours %4dms %-5v zbarimg %5dms %-5v %v", sp.name, img.w, img.h,
			d.Milliseconds(), okOurs, dz.Milliseconds(), okZbar, zgot)
	}
	n := len(pages)
	for _, x := range []struct {
		name string
		t    tally
	}{{"sohoa/barcode", ours}, {"zbarimg", zbar}} {
		t.Logf("%-13s right %d/%d pages, receipts %d/%d, wrong codes %d; per page mean %v, median %v, max %v",
			x.name, x.t.right, n, x.t.receiptsRight, x.t.receipts, x.t.wrong,
			(x.t.total / time.Duration(n)).Round(time.Millisecond), median(x.t.times).Round(time.Millisecond),
			slices.Max(x.t.times).Round(time.Millisecond))
	}
	if ours.right < zbar.right {
		t.Errorf("right on %d pages, zbarimg on %d", ours.right, zbar.right)
	}
	if ours.total >= zbar.total {
		t.Errorf("%v in all, zbarimg %v", ours.total, zbar.total)
	}
}

// score counts a page: right when exactly want was found (nothing for "").
func score(right, receiptsRight, receipts, wrong *int, got []string, want string) bool {
	ok := want == "" && len(got) == 0 || want != "" && len(got) == 1 && got[0] == want
	if ok {
		*right++
	}
	if want != "" {
		*receipts++
		if ok {
			*receiptsRight++
		}
	}
	for _, c := range got {
		if c != want {
			*wrong++
		}
	}
	return ok
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// writePGM writes img as a binary PGM (P5) file.
func writePGM(path string, img *gray) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "P5\n%d %d\n255\n", img.w, img.h)
	w.Write(img.pix)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
