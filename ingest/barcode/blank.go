package barcode

import (
	"context"
	"fmt"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// DefaultDropInk is the fraction of ink pixels at or under which
// BlankFinder calls a page blank: 0.01%, a fifteenth of NAPS2's default
// coverage (DefaultBlankCoverage). Measured at 200 dpi (see blank_test.go):
// empty pages with a scanner's noise and dust 0.001% at most, one short
// handwritten-size word 0.024%, a signature alone 0.15%. Keeping a blank
// page costs little; dropping a page with a word on it loses it.
const DefaultDropInk = 0.0001

// maxContentBytes caps the stored size of the content streams of a page that
// may be a blank scan. A scanner's page says "q w 0 0 h 0 0 cm /Im0 Do Q":
// a few dozen bytes.
const maxContentBytes = 4096

// Which page images are decoded at all. An empty page compresses better
// than a page with text on it, and the scanner's noise, which compresses
// badly, is the same on both sides of a sheet. So a page image is decoded
// only when its stored bits per pixel are under its encoding's cap
// (maxBlankBits) and at most blankRelative of the largest among the
// document's page images of that encoding. Both rules only spare decoding:
// a page they pass over is kept. Measured (gray JPEG q75 with mkscan's
// noise, 150-200 dpi): empty 0.55, text 0.69-0.79 bits per pixel (0.68 and 0.79 through tiff2pdf); colour
// q35 at 300 dpi 0.055 and 0.12; CCITT G4 0.0004 and 0.0077.
const blankRelative = 0.9

var maxBlankBits = map[string]float64{
	filter.DCT:      1.0,  // grey or colour JPEG
	filter.CCITTFax: 0.05, // black and white G4
	"":              2.0,  // Flate, LZW and other byte filters, or none
}

// BlankFinder tells which pages of a scan are blank, for dropping the empty
// back sides of a duplex scan. It is stricter than Reader's blank test,
// which only says whether a page may carry a receipt: a page is blank when
// it is a scanned image alone (no text, vector graphics, annotation or
// other image drawn) and at most MaxInk of its pixels, inside a 3% border,
// are darker than White. Born-digital pages are never blank.
//
// It decodes only the page images that could be blank: those whose stored
// size per pixel is small (see maxBlankBits). The zero value uses the
// defaults. A BlankFinder is safe for concurrent use; its fields must not
// change while it is in use.
type BlankFinder struct {
	// White is the grey level (0-255) below which a pixel is ink; 0 means
	// DefaultBlankWhite (70% brightness, as NAPS2).
	White uint8
	// MaxInk is the fraction of ink pixels at or under which a page is
	// blank; 0 means DefaultDropInk.
	MaxInk float64
	// MaxPixels caps the pixels of one page image; 0 means
	// DefaultMaxPixels. A larger image is not decoded and not blank.
	MaxPixels int64
	// MaxBytes caps the file size; 0 means DefaultMaxBytes.
	MaxBytes int64
}

// Blanks is what BlankFinder.Find saw in a document.
type Blanks struct {
	Pages   int           // pages in the document
	Blank   []int         // the blank pages, 1-based, in order
	Decoded int           // page images decoded to judge them
	Took    time.Duration // time spent decoding and counting
}

// Find reads the PDF at path and returns its blank pages. A file that does
// not parse has no pages and no blank page; a page image that cannot be
// decoded is not blank. An error is returned only when the file cannot be
// read or exceeds MaxBytes, or when ctx ends.
func (b *BlankFinder) Find(ctx context.Context, path string) (Blanks, error) {
	if err := ctx.Err(); err != nil {
		return Blanks{}, fmt.Errorf("find blank pages of %s: %w", path, err)
	}
	max := b.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	data, err := pdfdoc.ReadFile(path, max)
	if err != nil {
		return Blanks{}, fmt.Errorf("find blank pages: %w", err)
	}
	var res Blanks
	func() {
		defer func() {
			if p := recover(); p != nil {
				res = Blanks{} // a parser panic: nothing is called blank
			}
		}()
		res, err = b.find(ctx, data)
	}()
	if err != nil {
		return Blanks{}, fmt.Errorf("find blank pages of %s: %w", path, err)
	}
	return res, nil
}

func (b *BlankFinder) find(ctx context.Context, data []byte) (Blanks, error) {
	doc, err := openPDF(ctx, data, int64(len(data)))
	if err != nil {
		return Blanks{}, ctx.Err() // a document that does not parse has no blank page
	}
	return b.FindIn(ctx, doc)
}

// BlankPages returns the blank pages of a parsed document, as FindIn; it
// is how pdfcheck.Checker finds them in the parse of its own check.
func (b *BlankFinder) BlankPages(ctx context.Context, doc *model.Context) ([]int, error) {
	res, err := b.FindIn(ctx, doc)
	return res.Blank, err
}

// FindIn is Find on a document already parsed (by pdfcpu, relaxed): the
// file is not read again. Only the end of ctx is an error.
func (b *BlankFinder) FindIn(ctx context.Context, doc *model.Context) (Blanks, error) {
	var res Blanks
	xt := doc.XRefTable
	pp, err := pdfdoc.Walk{MaxPages: maxPages, ImageSize: pixelSize}.Pages(xt)
	if err != nil {
		return res, ctx.Err() // a broken page tree: keep every page
	}
	res.Pages = len(pp)
	white, maxInk := b.White, b.MaxInk
	if white == 0 {
		white = DefaultBlankWhite
	}
	if maxInk <= 0 {
		maxInk = DefaultDropInk
	}
	maxPixels := b.MaxPixels
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	start := time.Now()
	type cand struct {
		page int
		prm  imageParams
		raw  []byte
		bits float64
	}
	var cands []cand
	largest := map[string]float64{} // per encoding, over every page image
	images := map[string]int{}      // page images per encoding
	for i, p := range pp {
		if err := ctx.Err(); err != nil {
			return Blanks{}, err
		}
		ref := pageRef{w: p.W, h: p.H, img: p.Image.Stream, imgW: int(p.Image.W), imgH: int(p.Image.H), xt: xt}
		if ref.img == nil {
			continue
		}
		prm, err := params(xt, ref.img)
		if err != nil || prm.supported() != nil {
			continue
		}
		bits := bitsPerPixel(len(ref.img.Raw), prm)
		largest[prm.final] = max(largest[prm.final], bits)
		images[prm.final]++
		if coversPage(ref) && imageOnly(xt, p, i+1) {
			cands = append(cands, cand{page: i + 1, prm: prm, raw: ref.img.Raw, bits: bits})
		}
	}
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return Blanks{}, err
		}
		limit, ok := maxBlankBits[c.prm.final]
		if !ok || c.bits > limit || images[c.prm.final] > 1 && c.bits > blankRelative*largest[c.prm.final] {
			continue
		}
		res.Decoded++
		img, err := decodeImage(c.prm, c.raw, maxPixels)
		if err != nil {
			continue
		}
		if isBlank(img, white, maxInk) {
			res.Blank = append(res.Blank, c.page)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// bitsPerPixel is the stored size of an image per pixel, in bits.
func bitsPerPixel(stored int, p imageParams) float64 {
	return float64(stored) * 8 / (float64(p.w) * float64(p.h))
}

// inkCount counts the pixels darker than white inside the blank border,
// stopping once they are more than maxInk of that area.
func inkCount(img *gray, white uint8, maxInk float64) (ink, area int64) {
	bx, by := int(float64(img.w)*blankBorder), int(float64(img.h)*blankBorder)
	x0, x1, y0, y1 := bx, img.w-bx, by, img.h-by
	if x1 <= x0 || y1 <= y0 {
		return 0, 0
	}
	area = int64(x1-x0) * int64(y1-y0)
	limit := int64(maxInk * float64(area))
	for y := y0; y < y1; y++ {
		for _, v := range img.pix[y*img.w+x0 : y*img.w+x1] {
			if v < white {
				ink++
			}
		}
		if ink > limit {
			return ink, area
		}
	}
	return ink, area
}

// imageOnly reports whether a page shows nothing but one image XObject: no
// annotation, and content streams, small as a scanner writes them, whose
// operators only set the graphics state and draw that one image.
func imageOnly(xt *model.XRefTable, p pdfdoc.Page, n int) bool {
	if p.Dict == nil {
		return false
	}
	if a, ok := p.Dict.Find("Annots"); ok && a != nil {
		if arr, err := xt.DereferenceArray(a); err != nil || len(arr) > 0 {
			return false
		}
	}
	if storedContent(xt, p.Dict) > maxContentBytes {
		return false
	}
	content, err := xt.PageContent(p.Dict, n)
	if err != nil || len(content) > maxContentBytes {
		return false
	}
	name, ok := drawsOneXObject(content)
	if !ok {
		return false
	}
	return xobjectIsImage(xt, p.Resources, name)
}

// storedContent returns the stored size of a page's content streams, or
// more than maxContentBytes when they cannot be read.
func storedContent(xt *model.XRefTable, page types.Dict) int {
	o, _ := page.Find("Contents")
	o, err := xt.Dereference(o)
	if err != nil || o == nil {
		return maxContentBytes + 1
	}
	var streams []types.Object
	switch o := o.(type) {
	case types.StreamDict:
		return len(o.Raw)
	case types.Array:
		streams = o
	default:
		return maxContentBytes + 1
	}
	n := 0
	for _, s := range streams {
		sd, _, err := xt.DereferenceStreamDict(s)
		if err != nil || sd == nil {
			return maxContentBytes + 1
		}
		if n += len(sd.Raw); n > maxContentBytes {
			break
		}
	}
	return n
}

// stateOps are the content operators that only set the graphics state.
var stateOps = map[string]bool{"q": true, "Q": true, "cm": true, "gs": true, "w": true, "J": true,
	"j": true, "M": true, "d": true, "ri": true, "i": true}

// drawsOneXObject reads a content stream and returns the name of the one
// XObject it draws; ok is false when it draws none, several, or anything
// else (text, paths, shadings, inline images), or holds a string or a
// dictionary.
func drawsOneXObject(content []byte) (name string, ok bool) {
	var last string // the last name operand
	draws := 0
	for i := 0; i < len(content); {
		c := content[i]
		switch {
		case isSpace(c) || c == '[' || c == ']':
			i++
		case c == '%':
			for i < len(content) && content[i] != '\n' && content[i] != '\r' {
				i++
			}
		case c == '(' || c == '<' || c == '>' || c == ')' || c == '{' || c == '}':
			return "", false
		case c == '/':
			j := i + 1
			for j < len(content) && isRegular(content[j]) {
				j++
			}
			last = string(content[i+1 : j])
			i = j
		default:
			j := i
			for j < len(content) && isRegular(content[j]) {
				j++
			}
			tok := string(content[i:j])
			i = j
			switch {
			case isNumber(tok):
			case tok == "Do":
				if draws++; draws > 1 || last == "" {
					return "", false
				}
				name = last
			case stateOps[tok]:
			default:
				return "", false
			}
		}
	}
	return name, draws == 1
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isRegular(c byte) bool {
	return !isSpace(c) && c != '/' && c != '[' && c != ']' && c != '(' && c != ')' && c != '<' && c != '>' &&
		c != '{' && c != '}' && c != '%'
}

func isNumber(tok string) bool {
	if tok == "" {
		return false
	}
	for _, c := range []byte(tok) {
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' {
			return false
		}
	}
	return true
}

// xobjectIsImage reports whether the named XObject in a page's resources is
// an image (not a form, which could draw anything).
func xobjectIsImage(xt *model.XRefTable, res types.Object, name string) bool {
	rd, err := xt.DereferenceDict(res)
	if err != nil || rd == nil {
		return false
	}
	xo, ok := rd.Find("XObject")
	if !ok {
		return false
	}
	xd, err := xt.DereferenceDict(xo)
	if err != nil || xd == nil {
		return false
	}
	v, ok := xd.Find(name)
	if !ok {
		return false
	}
	sd, _, err := xt.DereferenceStreamDict(v)
	if err != nil || sd == nil {
		return false
	}
	st := sd.Subtype()
	return st != nil && *st == "Image"
}
