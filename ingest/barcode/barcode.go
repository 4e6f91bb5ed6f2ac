// Package barcode reads dossier codes from the QR codes and Code 128 barcodes
// in a scan's page images, and tells blank pages.
//
// Pages are never rendered. Each page's largest image XObject is taken as the
// scan of that page when it covers the page (its aspect ratio is the page's
// and it has at least 50 dpi); it is decoded to grey by this package (JPEG
// with image/jpeg, keeping only the luma; Flate, LZW and the other byte
// filters with pdfcpu's filters, predictors included, samples of 1 to 16
// bits in grey, RGB, CMYK, indexed and ICC colour spaces; CCITT fax with
// golang.org/x/image/ccitt; /Decode arrays honoured) and searched with the
// gozxing decoders: see readCodes for the order of the attempts. Pages
// without such an image (born-digital text and vector pages) are reported as
// they are, without any decoding.
//
// A decoded value counts only through the dossier-code grammar: a value that
// is a code, or a text such as a URL that carries codes, gives those codes;
// anything else is ignored. A page with two different codes reports both:
// it is the caller's to treat it as ambiguous.
//
// Work is bounded: the file size, the pixels of one image (against
// decompression bombs), the decoded bytes of a stream, the caller's context
// (checked between pages and between attempts); decoder panics are
// recovered and reported as a page on which nothing was found. A blank page
// is not searched.
package barcode

import (
	"context"
	"fmt"
	"sync"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// Defaults for the zero fields of Reader.
const (
	// DefaultBlankWhite is the grey level (of 255) below which a pixel counts
	// as ink: 70% brightness, as NAPS2's default white threshold.
	DefaultBlankWhite = 179
	// DefaultBlankCoverage is the fraction of ink pixels under which a page
	// is blank: 0.15%, as NAPS2's default coverage threshold. A line of
	// typed text covers more than this; the scanner's noise much less.
	DefaultBlankCoverage = 0.0015
	// DefaultMaxPixels caps the pixels of one page image: an A3 page at
	// 600 dpi fits.
	DefaultMaxPixels = 72_000_000
	// DefaultMaxBytes caps the size of the file read.
	DefaultMaxBytes = 256 << 20
)

// blankBorder is the fraction of each side left out of the blank test: the
// scanner's lid shadow and the paper's edge.
const blankBorder = 0.03

// minScanDPI is the least resolution at which the largest image of a page
// is taken for a scan of it (a logo on a born-digital page has much less).
const minScanDPI = 50

// Reader reads the codes and tells the blank pages of scans. The zero value
// uses the defaults and the strict code grammar. A Reader is safe for
// concurrent use; its fields must not change while it is in use.
type Reader struct {
	// Grammar recognises dossier codes; nil means dossier.StrictPattern.
	Grammar *dossier.Grammar
	// BlankWhite is the grey level (0-255) below which a pixel is ink;
	// 0 means DefaultBlankWhite.
	BlankWhite uint8
	// BlankCoverage is the fraction of ink pixels (within the page less a
	// 3% border) below which a page is blank; 0 means DefaultBlankCoverage.
	// A negative value turns blank detection off.
	BlankCoverage float64
	// MaxPixels caps the pixels of one page image; 0 means
	// DefaultMaxPixels. A larger image is not decoded.
	MaxPixels int64
	// MaxBytes caps the file size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// Workers is how many pages are decoded at once; 0 means 1.
	Workers int
}

// Found is one dossier code read from a page.
type Found struct {
	Code      string // canonical form (dossier.Canonical)
	Symbology string // "qr" or "code128"
}

// Page is what was seen on one page.
type Page struct {
	Index int  // 1-based page number
	Image bool // the page carries a scanned image (decoding was tried)
	// Codes are the distinct grammar-valid codes found, in the order they
	// were found. Two or more different codes make the page ambiguous.
	Codes []Found
	// Blank reports a scanned page with (almost) nothing on it, such as the
	// empty back of a sheet scanned duplex.
	Blank bool
	// Detail says, in English for logs, why a scanned page could not be
	// searched (an unsupported encoding, damaged data, over the pixel cap);
	// "" when it was.
	Detail string
}

// Read reads the PDF file at path and returns one Page per page.
//
// Damaged content is not an error: a page whose image cannot be decoded is
// returned with nothing found and a Detail, and a file that cannot be parsed
// as a PDF at all gives no pages. An error is returned only when the file
// cannot be read or exceeds MaxBytes, or when ctx ends before the answer.
func (r *Reader) Read(ctx context.Context, path string) ([]Page, error) {
	return r.ReadFirst(ctx, path, 0)
}

// ReadFirst is Read that decodes only the first n pages that carry a scanned
// image (all of them when n <= 0); later pages are reported with Image set
// and nothing found. A receipt is scanned first, so n = 1 is enough to check
// a scan that its name already links.
func (r *Reader) ReadFirst(ctx context.Context, path string, n int) ([]Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read codes of %s: %w", path, err)
	}
	data, err := pdfdoc.ReadFile(path, r.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("read codes: %w", err)
	}
	g := r.Grammar
	if g == nil {
		if g, err = dossier.NewGrammar(""); err != nil {
			return nil, fmt.Errorf("read codes: %w", err)
		}
	}
	type answer struct {
		pages []Page
		err   error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		defer func() {
			if p := recover(); p != nil {
				// A panic outside a page (the PDF parser): nothing read.
				a = answer{}
			}
			done <- a
		}()
		a.pages, a.err = r.read(ctx, data, g, n)
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("read codes of %s: %w", path, a.err)
		}
		return a.pages, nil
	case <-ctx.Done():
		// The worker stops at its next check of ctx.
		return nil, fmt.Errorf("read codes of %s: %w", path, ctx.Err())
	}
}

func (r *Reader) maxBytes() int64 {
	if r.MaxBytes > 0 {
		return r.MaxBytes
	}
	return DefaultMaxBytes
}

func (r *Reader) maxPixels() int64 {
	if r.MaxPixels > 0 {
		return r.MaxPixels
	}
	return DefaultMaxPixels
}

func (r *Reader) blankParams() (white uint8, coverage float64) {
	white, coverage = r.BlankWhite, r.BlankCoverage
	if white == 0 {
		white = DefaultBlankWhite
	}
	if coverage == 0 {
		coverage = DefaultBlankCoverage
	}
	return white, coverage
}

// read parses the document and reads its pages. Only ctx's end is an error.
func (r *Reader) read(ctx context.Context, data []byte, g *dossier.Grammar, limit int) ([]Page, error) {
	pages, jobs, err := prepare(ctx, data)
	if err != nil {
		return nil, err
	}
	sem := make(chan struct{}, max(1, r.Workers))
	var wg sync.WaitGroup
	decoded := 0
	for i := range pages {
		if !pages[i].Image {
			continue
		}
		if ctx.Err() != nil || limit > 0 && decoded >= limit {
			break
		}
		decoded++
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.page(ctx, &pages[i], jobs[i], g)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pages, nil
}

// prepare parses the document and gathers, for each page, what decoding
// its image needs. Everything that touches pdfcpu's tables is done here, in
// one goroutine, so that the pages' images can then be decoded in parallel.
// A document pdfcpu cannot parse has no pages; only ctx's end is an error.
func prepare(ctx context.Context, data []byte) ([]Page, []pageJob, error) {
	doc, err := openPDF(ctx, data, int64(len(data)))
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, nil
	}
	refs, _ := scanPages(doc.XRefTable) // a broken tree: the pages before the break
	pages := make([]Page, len(refs))
	jobs := make([]pageJob, len(refs))
	for i, ref := range refs {
		pages[i].Index = i + 1
		if ref.img == nil || !coversPage(ref) {
			continue
		}
		pages[i].Image = true
		jobs[i] = pageJob{dpi: ref.dpi(), raw: ref.img.Raw}
		if jobs[i].prm, jobs[i].err = params(ref.xt, ref.img); jobs[i].err == nil {
			jobs[i].err = jobs[i].prm.supported()
		}
	}
	return pages, jobs, nil
}

// pageJob is what decoding one page image needs, gathered beforehand.
type pageJob struct {
	prm imageParams
	raw []byte // the image stream as stored (decrypted)
	dpi float64
	err error // the image cannot be decoded
}

// page decodes one page image and searches it, recovering decoder panics.
func (r *Reader) page(ctx context.Context, p *Page, job pageJob, g *dossier.Grammar) {
	defer func() {
		if e := recover(); e != nil {
			p.Codes, p.Blank = nil, false
			p.Detail = fmt.Sprintf("decoder panic: %v", e)
		}
	}()
	if job.err != nil {
		p.Detail = job.err.Error()
		return
	}
	img, err := decodeImage(job.prm, job.raw, r.maxPixels())
	if err != nil {
		p.Detail = err.Error()
		return
	}
	white, coverage := r.blankParams()
	if coverage > 0 && isBlank(img, white, coverage) {
		p.Blank = true
		return // a blank page carries no code: not searched
	}
	codes, _, err := readCodes(ctx, img, job.dpi, codesIn(g))
	if err != nil {
		p.Detail = err.Error()
		return
	}
	p.Codes = codes
}

// coversPage reports whether the page's largest image is a scan of the whole
// page: the page's shape (either way round) and a scan's resolution.
func coversPage(ref pageRef) bool {
	if ref.imgW <= 0 || ref.imgH <= 0 {
		return false
	}
	if ref.w <= 0 || ref.h <= 0 {
		return true // no page size to compare with
	}
	il, is := float64(max(ref.imgW, ref.imgH)), float64(min(ref.imgW, ref.imgH))
	pl, ps := max(ref.w, ref.h), min(ref.w, ref.h)
	ratio := (il / is) / (pl / ps)
	return ratio > 0.8 && ratio < 1.25 && ref.dpi() >= minScanDPI
}

// codesIn returns the function that turns a decoded value into the dossier
// codes it carries: the value itself when it is a code, else the codes
// found inside it (a URL or a record with the code in it).
func codesIn(g *dossier.Grammar) func(string) []string {
	return func(s string) []string {
		if g.Valid(s) {
			return []string{dossier.Canonical(s)}
		}
		return g.Find(s)
	}
}

// isBlank reports whether fewer than coverage of the pixels inside the
// border are darker than white.
func isBlank(img *gray, white uint8, coverage float64) bool {
	ink, area := inkCount(img, white, coverage)
	return area > 0 && ink <= int64(coverage*float64(area))
}
