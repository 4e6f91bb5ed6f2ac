// Package sign puts the digitizer's digital signature on a PDF before it is
// uploaded, as Circular 01/2023/TT-VPCP art. 8 asks: a PAdES baseline
// signature (a detached CMS with SubFilter ETSI.CAdES.detached; B-B, or
// B-T with a timestamp) and a visible stamp in the top-left corner of page
// 1 naming the digitizer and the time, with the signature's field there.
//
// The signature is an incremental update appended to the file: the bytes
// before it, the scanned pages as they were checked, are not changed. The
// key is any crypto.Signer (a token's, through PKCS #11, or a PKCS #12
// file's: see package key).
package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// Signer signs PDFs with one key. Its fields are set before use and not
// changed after; Sign is safe for concurrent use if Key and Timestamp are.
type Signer struct {
	// Key signs; its public key is Chain[0]'s. RSA and ECDSA keys.
	Key crypto.Signer
	// Chain is the signer's certificate first, then the CAs' that vouch for
	// it (they go into the signature, for verifiers without them).
	Chain []*x509.Certificate
	// Name is the digitizer's name in the stamp; "": the certificate's
	// common name.
	Name string
	// Timestamp returns an RFC 3161 timestamp token over the SHA-256 digest
	// given (of the signature value), making the signature B-T; nil: B-B.
	Timestamp func(ctx context.Context, digest []byte) ([]byte, error)
}

// ErrNotSignable is a PDF this package cannot add a signature to (an
// encrypted one, or one whose cross-reference data cannot be followed):
// signing it again will not help.
var ErrNotSignable = errors.New("PDF cannot be signed")

// Name is the name the stamp shows.
func (s *Signer) name() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Chain[0].Subject.CommonName
}

// Sign returns pdf with the signature and the stamp appended as an
// incremental update, signed at the time at. pdf itself is not changed,
// and is a prefix of the result.
func (s *Signer) Sign(ctx context.Context, pdf []byte, at time.Time) ([]byte, error) {
	if s.Key == nil || len(s.Chain) == 0 {
		return nil, errors.New("sign: no key or no certificate")
	}
	doc, err := read(pdf)
	if err != nil {
		return nil, err
	}

	// Objects of the update: the signature, the field with its widget, the
	// appearance and its font, then the catalog's and page's new versions.
	sigNum, fieldNum, formNum := doc.size, doc.size+1, doc.size+2
	ap, err := stampAppearance(StampLines(s.name(), at), doc.size+3)
	if err != nil {
		return nil, err
	}
	next := doc.size + 3 + len(ap.objs)
	rect, matrix := placement(doc.box, doc.rotate, ap.w, ap.h)

	contentsLen := 8192 + 2048
	for _, c := range s.Chain {
		contentsLen += len(c.Raw)
	}
	if s.Timestamp != nil {
		contentsLen += 8192 + 4096
	}
	sigDict := fmt.Sprintf("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/ByteRange%s/Contents<%s>/M%s/Name%s>>",
		byteRangePlaceholder, strings.Repeat("0", 2*contentsLen), pdfDate(at), textString(s.name()))
	field := fmt.Sprintf("<</Type/Annot/Subtype/Widget/FT/Sig/T(SoHoa-%d)/V %d 0 R/F 132/P %d %d R/Rect[%.2f %.2f %.2f %.2f]/AP<</N %d 0 R>>>>",
		sigNum, sigNum, doc.page.ObjectNumber.Value(), doc.page.GenerationNumber.Value(), rect[0], rect[1], rect[2], rect[3], formNum)
	objs := []object{{num: sigNum, body: []byte(sigDict)}, {num: fieldNum, body: []byte(field)}, ap.form(formNum, matrix)}
	objs = append(objs, ap.objs...)
	changed, err := doc.addField(fieldNum)
	if err != nil {
		return nil, err
	}
	objs = append(objs, changed...)

	size := next
	if doc.xrefStream {
		size++
	}
	out := appendUpdate(pdf, objs, size, doc.trailer, doc.prev, doc.xrefStream, next)

	// The byte range: everything but the /Contents hex string.
	sigAt := bytes.Index(out[len(pdf):], fmt.Appendf(nil, "\n%d 0 obj\n", sigNum)) + len(pdf)
	brAt := bytes.Index(out[sigAt:], []byte(byteRangePlaceholder)) + sigAt
	cAt := bytes.Index(out[sigAt:], []byte("/Contents<")) + sigAt + len("/Contents")
	cEnd := cAt + 2*contentsLen + 2
	br := fmt.Sprintf("[0 %d %d %d]", cAt, cEnd, len(out)-cEnd)
	if len(br) > len(byteRangePlaceholder) {
		return nil, fmt.Errorf("%w: file too large for the byte range", ErrNotSignable)
	}
	copy(out[brAt:], br+strings.Repeat(" ", len(byteRangePlaceholder)-len(br)))
	h := sha256.New()
	h.Write(out[:cAt])
	h.Write(out[cEnd:])
	var stamp func(sig []byte) ([]byte, error)
	if s.Timestamp != nil {
		stamp = func(sig []byte) ([]byte, error) {
			d := sha256.Sum256(sig)
			return s.Timestamp(ctx, d[:])
		}
	}
	cmsBytes, err := cms(h.Sum(nil), s.Key, s.Chain, stamp)
	if err != nil {
		return nil, err
	}
	if len(cmsBytes) > contentsLen {
		return nil, fmt.Errorf("sign: signature of %d bytes over the %d reserved", len(cmsBytes), contentsLen)
	}
	hex.Encode(out[cAt+1:], cmsBytes)
	return out, nil
}

// Signable is nil when Sign can add a signature to pdf, else why not
// (wrapping ErrNotSignable); `sohoa check` reports it.
func Signable(pdf []byte) error {
	_, err := read(pdf)
	return err
}

// byteRangePlaceholder is overwritten by the byte range, padded with spaces.
var byteRangePlaceholder = "[0 " + strings.Repeat("0", 10) + " " + strings.Repeat("0", 10) + " " + strings.Repeat("0", 10) + "]"

// document is what the update needs of the file it is appended to.
type document struct {
	xt         *model.XRefTable
	size       int   // the trailer's /Size: the first new object number
	prev       int64 // the last cross-reference section
	xrefStream bool
	trailer    string // /Root, /Info, /ID as they were
	root       *types.IndirectRef
	page       *types.IndirectRef
	pageDict   types.Dict
	box        [4]float64 // page 1's crop box
	rotate     int
}

func read(pdf []byte) (*document, error) {
	prev, stream, err := prevXRef(pdf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSignable, err)
	}
	ctx, err := api.ReadContext(bytes.NewReader(pdf), pdfdoc.Config(pdfdoc.Options{MaxStream: int64(len(pdf))}))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrNotSignable, err)
	}
	xt := ctx.XRefTable
	if xt.Encrypt != nil {
		return nil, fmt.Errorf("%w: encrypted", ErrNotSignable)
	}
	if xt.Root == nil || xt.Size == nil {
		return nil, fmt.Errorf("%w: no catalog or no /Size in the trailer", ErrNotSignable)
	}
	if err := xt.EnsurePageCount(); err != nil {
		return nil, fmt.Errorf("%w: pages: %w", ErrNotSignable, err)
	}
	pd, ref, inh, err := xt.PageDict(1, false)
	if err != nil || ref == nil {
		return nil, fmt.Errorf("%w: page 1: %v", ErrNotSignable, err)
	}
	r := inh.CropBox
	if r == nil {
		r = inh.MediaBox
	}
	if r == nil {
		return nil, fmt.Errorf("%w: page 1 has no MediaBox", ErrNotSignable)
	}
	trailer := "/Root " + xt.Root.PDFString()
	if xt.Info != nil {
		trailer += "/Info " + xt.Info.PDFString()
	}
	if len(xt.ID) == 2 {
		trailer += "/ID" + xt.ID.PDFString()
	}
	return &document{
		xt: xt, size: *xt.Size, prev: prev, xrefStream: stream, trailer: trailer, root: xt.Root, page: ref, pageDict: pd,
		box: [4]float64{r.LL.X, r.LL.Y, r.UR.X, r.UR.Y}, rotate: inh.Rotate,
	}, nil
}

// addField returns the new versions of the objects that must refer to the
// signature field: the form dictionary's /Fields (in the catalog, or its
// own object) and page 1's /Annots. A file that says it is older than PDF
// 1.7 gets /Version 1.7 in its catalog, the version whose signatures it
// now carries (and above the archives' minimum of 1.4).
func (d *document) addField(field int) ([]object, error) {
	ref := *types.NewIndirectRef(field, 0)
	var objs []object
	cat, err := d.xt.Catalog()
	if err != nil {
		return nil, fmt.Errorf("%w: catalog: %w", ErrNotSignable, err)
	}
	cat = cat.Clone().(types.Dict)
	formObj, hasForm := cat.Find("AcroForm")
	form := types.Dict{}
	if hasForm {
		if f, err := d.xt.DereferenceDict(formObj); err == nil && f != nil {
			form = f.Clone().(types.Dict)
		}
	}
	fields, _ := d.xt.DereferenceArray(form["Fields"])
	form["Fields"] = append(append(types.Array{}, fields...), ref)
	form["SigFlags"] = types.Integer(3)
	newCatalog := d.xt.Version() < model.V17
	if newCatalog {
		cat["Version"] = types.Name("1.7")
	}
	if fr, ok := formObj.(types.IndirectRef); ok && hasForm {
		objs = append(objs, object{num: fr.ObjectNumber.Value(), gen: fr.GenerationNumber.Value(), body: []byte(form.PDFString())})
	} else {
		cat["AcroForm"] = form
		newCatalog = true
	}
	if newCatalog {
		objs = append(objs, object{num: d.root.ObjectNumber.Value(), gen: d.root.GenerationNumber.Value(), body: []byte(cat.PDFString())})
	}

	page := d.pageDict.Clone().(types.Dict)
	annots, _ := d.xt.DereferenceArray(page["Annots"])
	page["Annots"] = append(append(types.Array{}, annots...), ref)
	objs = append(objs, object{num: d.page.ObjectNumber.Value(), gen: d.page.GenerationNumber.Value(), body: []byte(page.PDFString())})
	return objs, nil
}

// pdfDate is a PDF date string in Vietnam time.
func pdfDate(t time.Time) string {
	return t.In(dossier.ICT()).Format("(D:20060102150405+07'00')")
}

// textString is a PDF text string of s: UTF-16BE with a byte order mark,
// in hex.
func textString(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}
