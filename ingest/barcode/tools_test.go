package barcode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// scanSpec is one scan to make with mkscan.sh.
type scanSpec struct {
	kind     string // "cover", "qr-only" or "bar-only"
	code     string
	rotate   string // degrees
	mode     string // gray, color, bw
	dpi      int
	quality  int    // JPEG quality (gray and color)
	producer string // img2pdf, tiff2pdf, gs (gray and color)
	pages    int    // content pages after the receipt
	backs    bool   // a near-blank back after each content page
}

func (s scanSpec) name() string {
	n := fmt.Sprintf("%s_r%s_%s_%d", s.kind, s.rotate, s.mode, s.dpi)
	if s.mode != "bw" {
		n += fmt.Sprintf("_q%d_%s", s.quality, s.producer)
	}
	if s.backs {
		n += "_duplex"
	}
	return n
}

// args are bash's arguments to run the script mkscan for s.
func (s scanSpec) args(mkscan, out string, seed int) []string {
	a := []string{mkscan, "--" + s.kind, s.code,
		"--pages", fmt.Sprint(s.pages), "--rotate", s.rotate, "--mode", s.mode,
		"--dpi", fmt.Sprint(s.dpi), "--seed", fmt.Sprint(seed)}
	if s.mode != "bw" {
		a = append(a, "--quality", fmt.Sprint(s.quality), "--producer", s.producer)
	}
	if s.backs {
		a = append(a, "--blank-backs")
	}
	return append(a, out)
}

// blank reports whether page n (1-based) of the scan is a blank back.
func (s scanSpec) blank(n int) bool { return s.backs && n >= 3 && n%2 == 1 }

// generatedSet covers every option of mkscan.sh without making the whole
// product: each symbology in every orientation and with skew both ways,
// each colour mode at 150 to 600 dpi, JPEG quality 35 and 75, each producer,
// and duplex scans with blank backs. It takes about 35 s on 2 cores.
func generatedSet() []scanSpec {
	specs := []scanSpec{
		{kind: "cover", rotate: "0", mode: "gray", dpi: 200, quality: 75, producer: "img2pdf"},
		{kind: "cover", rotate: "90", mode: "gray", dpi: 200, quality: 35, producer: "img2pdf"},
		{kind: "cover", rotate: "180", mode: "color", dpi: 300, quality: 35, producer: "gs"},
		{kind: "cover", rotate: "270", mode: "bw", dpi: 300},
		{kind: "cover", rotate: "2", mode: "gray", dpi: 200, quality: 75, producer: "gs"},
		{kind: "cover", rotate: "0", mode: "color", dpi: 600, quality: 35, producer: "gs"},
		{kind: "qr-only", rotate: "0", mode: "bw", dpi: 150},
		{kind: "qr-only", rotate: "90", mode: "color", dpi: 150, quality: 35, producer: "img2pdf"},
		{kind: "qr-only", rotate: "180", mode: "gray", dpi: 600, quality: 75, producer: "tiff2pdf"},
		{kind: "qr-only", rotate: "270", mode: "gray", dpi: 300, quality: 35, producer: "tiff2pdf"},
		{kind: "qr-only", rotate: "2", mode: "color", dpi: 200, quality: 35, producer: "img2pdf"},
		{kind: "qr-only", rotate: "-2", mode: "bw", dpi: 300},
		{kind: "qr-only", rotate: "180", mode: "gray", dpi: 150, quality: 35, producer: "gs"},
		{kind: "bar-only", rotate: "0", mode: "gray", dpi: 150, quality: 35, producer: "img2pdf"},
		{kind: "bar-only", rotate: "90", mode: "gray", dpi: 200, quality: 75, producer: "tiff2pdf"},
		{kind: "bar-only", rotate: "180", mode: "color", dpi: 300, quality: 75, producer: "tiff2pdf"},
		{kind: "bar-only", rotate: "270", mode: "color", dpi: 200, quality: 35, producer: "gs"},
		{kind: "bar-only", rotate: "2", mode: "gray", dpi: 300, quality: 75, producer: "img2pdf"},
		{kind: "bar-only", rotate: "2", mode: "bw", dpi: 200},
		{kind: "bar-only", rotate: "-2", mode: "color", dpi: 200, quality: 75, producer: "img2pdf"},
		{kind: "bar-only", rotate: "90", mode: "bw", dpi: 150},
		{kind: "bar-only", rotate: "0", mode: "gray", dpi: 600, quality: 35, producer: "img2pdf"},
		{kind: "bar-only", rotate: "270", mode: "gray", dpi: 150, quality: 75, producer: "gs"},
		{kind: "bar-only", rotate: "180", mode: "bw", dpi: 300},
		{kind: "bar-only", rotate: "0", mode: "color", dpi: 150, quality: 35, producer: "tiff2pdf"},
		{kind: "bar-only", rotate: "-2", mode: "gray", dpi: 200, quality: 35, producer: "gs"},
		{kind: "cover", rotate: "0", mode: "gray", dpi: 200, quality: 35, producer: "img2pdf", pages: 1, backs: true},
		{kind: "cover", rotate: "180", mode: "bw", dpi: 200, pages: 1, backs: true},
		{kind: "cover", rotate: "0", mode: "color", dpi: 150, quality: 35, producer: "tiff2pdf", pages: 1, backs: true},
		{kind: "qr-only", rotate: "90", mode: "bw", dpi: 200, pages: 1},
	}
	for i := range specs {
		specs[i].code = fmt.Sprintf("000.00.12.H57-200401-%04d", i+1)
	}
	return specs
}

// generated is the generated set, made once for the tests of this package
// that use it, in a folder TestMain removes.
type generated struct {
	once  sync.Once
	dir   string
	specs []scanSpec
	files []string
	err   error
}

// scans returns the generated set, making it on first use. When the
// environment variable BARCODE_GEN_DIR names a folder, the scans are kept
// there and reused by later runs.
func (g *generated) scans(t testing.TB) ([]scanSpec, []string) {
	t.Helper()
	testenv.SkipUnderRace(t, "decoding 30 generated scans, and timings beside zbarimg")
	mkscan := testenv.Mkscan(t)
	g.once.Do(func() {
		dir := os.Getenv("BARCODE_GEN_DIR")
		if dir == "" {
			if dir, g.err = os.MkdirTemp("", "barcode-gen-*"); g.err != nil {
				return
			}
			g.dir = dir
		}
		g.specs = generatedSet()
		start := time.Now()
		g.files, g.err = makeScans(mkscan, dir, g.specs)
		t.Logf("made %d scans with mkscan.sh in %v", len(g.files), time.Since(start).Round(time.Millisecond))
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.specs, g.files
}

func (g *generated) cleanup() {
	if g.dir != "" {
		os.RemoveAll(g.dir)
	}
}

// makeScans runs mkscan.sh (at mkscan) for every spec, two at a time, into
// dir (files already there are kept), and returns the files in the order of
// specs.
func makeScans(mkscan, dir string, specs []scanSpec) ([]string, error) {
	files := make([]string, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, s := range specs {
		files[i] = filepath.Join(dir, fmt.Sprintf("%02d_%s.pdf", i, s.name()))
		if _, err := os.Stat(files[i]); err == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			tmp := files[i] + ".part"
			cmd := exec.Command("bash", s.args(mkscan, tmp, 100+i)...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				err = os.Rename(tmp, files[i])
			}
			if err != nil {
				errs[i] = fmt.Errorf("mkscan %s: %v\n%s", s.name(), err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}
