package ingest

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

// Linker finds the dossier a scan belongs to, from where staff saved it and
// the receipts scanned with it, and decides what becomes of the scan
// (Decide). It is safe for concurrent use.
type Linker struct {
	Grammar       *dossier.Grammar
	Ward          string // this unit's agency code
	AcceptForeign bool   // link codes of other agencies instead of holding them
	SkipFolder    string // a folder name that never carries a code (the waiting folder)
}

// link looks for a code in the file name, then in each parent folder from the
// innermost out. rel is the slash-separated path under the inbox. It returns
// the code, or a hold reason with an English detail. Two different codes in
// one name are never resolved by guessing.
func (l *Linker) link(rel string) (codes []string, r reason.Code, detail string) {
	rel = strings.Trim(path.Clean(strings.ReplaceAll(rel, `\`, "/")), "/")
	parts := strings.Split(rel, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if i < len(parts)-1 && dossier.Canonical(parts[i]) == dossier.Canonical(l.SkipFolder) {
			continue
		}
		found := l.Grammar.Find(parts[i])
		switch {
		case len(found) == 0:
			continue
		case len(found) > 1:
			return found, reason.AmbiguousCode, fmt.Sprintf("%q has %d different codes: %s", parts[i], len(found), strings.Join(found, ", "))
		}
		code := found[0]
		if agency := dossier.Agency(code); !l.AcceptForeign && l.Ward != "" && agency != dossier.Canonical(l.Ward) {
			return found, reason.ForeignAgency, fmt.Sprintf("code %s is of agency %s, not %s", code, agency, l.Ward)
		}
		return found, "", ""
	}
	return nil, reason.NoCode, "no dossier code in the file name or its folders"
}

// receipt combines what the name said (codes, hold, detail from link) with
// the receipts found on the scan's pages, in linking order: name, folder,
// then barcode. A receipt's code links a scan the name did not; a name and
// a receipt that disagree, several receipts in one file (a batch), or a
// receipt after other pages hold the scan for a person rather than guess.
// via says how the code was found when the barcode linked it ("qr" or
// "code128"), "" otherwise.
func (l *Linker) receipt(codes []string, hold reason.Code, detail string, pages []barcode.Page) (_ []string, _ reason.Code, _ string, via string) {
	var found []barcode.Found
	first := 0 // page of the first receipt
	seen := map[string]bool{}
	for _, p := range pages {
		if len(p.Codes) > 1 {
			return codes, reason.AmbiguousCode, fmt.Sprintf("page %d carries %d different codes", p.Index, len(p.Codes)), ""
		}
		if len(p.Codes) == 0 {
			if first == 0 && !p.Blank && p.Image {
				first = -1 // content before any receipt
			}
			continue
		}
		if first == 0 {
			first = p.Index
		} else if first < 0 {
			return codes, reason.Batch, fmt.Sprintf("pages before the receipt on page %d", p.Index), ""
		}
		if !seen[p.Codes[0].Code] {
			seen[p.Codes[0].Code] = true
			found = append(found, p.Codes[0])
		}
	}
	switch {
	case len(found) == 0:
		return codes, hold, detail, ""
	case len(found) > 1:
		all := make([]string, len(found))
		for i, f := range found {
			all[i] = f.Code
		}
		if hold == "" && codes[0] != found[0].Code {
			return []string{codes[0], found[0].Code}, reason.CodeConflict,
				fmt.Sprintf("name says %s, the first of %d receipts (%s) says %s", codes[0], len(found), found[0].Symbology, found[0].Code), ""
		}
		return all, reason.Batch, fmt.Sprintf("%d receipts: %s", len(found), strings.Join(all, ", ")), ""
	}
	bc := found[0]
	switch hold {
	case "":
		if codes[0] != bc.Code {
			return []string{codes[0], bc.Code}, reason.CodeConflict,
				fmt.Sprintf("name says %s, %s on the receipt says %s", codes[0], bc.Symbology, bc.Code), ""
		}
		return codes, "", "", ""
	case reason.NoCode:
		linked, h, d := l.link(bc.Code)
		if h != "" {
			return linked, h, d + " (from the receipt's " + bc.Symbology + ")", ""
		}
		return linked, "", "", bc.Symbology
	}
	return codes, hold, detail, "" // the name's own problem stands
}

// Part is one dossier's pages of a batch scan, or the pages before its
// first receipt, which no receipt names (Code "").
type Part struct {
	Code      string // "" for the pages before the first receipt
	Symbology string // of the receipt that opens it: "qr" or "code128"
	Pages     []int  // 1-based, in order, the receipt first
}

// cut cuts a batch at its receipts: a new part starts at each receipt page
// whose code differs from the part before. Pages before the first receipt
// that are not blank make a first part without a code, to be held for a
// person while the receipts' parts go on. It returns nil unless every
// receipt carries one code, every code is this unit's (or foreign codes are
// accepted), and the file is more than one part.
func (l *Linker) cut(pages []barcode.Page) []Part {
	var lead Part
	var parts []Part
	for _, p := range pages {
		switch {
		case len(p.Codes) > 1:
			return nil
		case len(p.Codes) == 1 && (len(parts) == 0 || parts[len(parts)-1].Code != p.Codes[0].Code):
			if _, h, _ := l.link(p.Codes[0].Code); h != "" {
				return nil
			}
			parts = append(parts, Part{Code: p.Codes[0].Code, Symbology: p.Codes[0].Symbology})
		case len(parts) == 0:
			if !p.Blank {
				lead.Pages = append(lead.Pages, p.Index)
			}
			continue
		}
		parts[len(parts)-1].Pages = append(parts[len(parts)-1].Pages, p.Index)
	}
	if len(lead.Pages) > 0 && len(parts) > 0 {
		parts = append([]Part{lead}, parts...)
	}
	if len(parts) < 2 {
		return nil
	}
	return parts
}

// Findings are what was read of a scan: all that Decide tells its fate from.
type Findings struct {
	// Path is where the scan was found, slash-separated under the inbox (for
	// sohoa check, the file as given): its name and folders may carry a code.
	Path string
	// Check is the check's verdict; a Reason rejects the scan.
	Check pdfcheck.Result
	// Receipts are the pages the receipts' reader saw (see Examine); nil
	// when they were not read.
	Receipts []barcode.Page
}

// Examine reads what, besides its check, tells the fate of the scan at file,
// found at rel (see Findings.Path): the receipts on its pages. They are read
// when the scan passed its check and r is not nil (link.barcodes: off), and
// of a scan its name links only without skipNamed (link.barcodes: unnamed).
// An error is the reader's.
func (l *Linker) Examine(ctx context.Context, r BarcodeReader, skipNamed bool, file, rel string, checked pdfcheck.Result) (Findings, error) {
	f := Findings{Path: rel, Check: checked}
	if checked.Reason != "" || r == nil {
		return f, nil
	}
	_, hold, _ := l.link(rel)
	if hold == "" && skipNamed {
		return f, nil
	}
	pages, err := readReceipts(ctx, r, file, hold == "")
	if err != nil {
		return f, err
	}
	f.Receipts = pages
	return f, nil
}

// readReceipts reads the receipts of a scan at path. A scan without a code
// in its name (named false) is read whole. A named one has its first page
// with an image read, to check it against the name; when that page is a
// receipt, the scan may be a batch saved under its first dossier's name, and
// its other pages are read too, for more receipts. A named scan that does not
// open with a receipt is not read further.
func readReceipts(ctx context.Context, r BarcodeReader, path string, named bool) ([]barcode.Page, error) {
	if !named {
		return r.ReadFirst(ctx, path, 0)
	}
	pages, err := r.ReadFirst(ctx, path, 1)
	if err != nil || !slices.ContainsFunc(pages, func(p barcode.Page) bool { return len(p.Codes) > 0 }) || len(pages) < 2 {
		return pages, err
	}
	return r.ReadFirst(ctx, path, 0)
}

// How a code that links a scan was found (Fate.Via), besides a receipt's
// symbology ("qr" or "code128").
const (
	viaName   = "name"
	viaFolder = "folder"
)

// Fate is what becomes of a scan: the state it is recorded in, why, and the
// dossiers it goes to.
type Fate struct {
	// State is Queued (linked, to be uploaded), Split (a batch cut into
	// Parts), Waiting (for a person) or Rejected (it failed its check).
	State store.State
	// Reason says why a Rejected scan failed its check, or why a Waiting one
	// waits; Detail says it in English. Both are empty otherwise.
	Reason reason.Code
	Detail string
	// Dossiers are the codes found: the one a Queued scan goes to, a Split
	// one's parts', those a Waiting one's name and receipts name. A Rejected
	// one keeps its name's.
	Dossiers []string
	// Hold says why no code links the scan, whatever its State, and
	// HoldDetail says it in English: a Waiting scan's Reason; for a Rejected
	// one, what its name and folders alone say. Empty when a code links it.
	Hold       reason.Code
	HoldDetail string
	// Via says how the code that links the scan was found: "name",
	// "folder", or a receipt's symbology ("qr", "code128"); "" when none.
	Via string
	// Blank are the blank pages (the empty back sides of a duplex scan) left
	// out of what is uploaded: those the check found (see droppable), none
	// when it did not look.
	Blank []int
	// Parts are a Split batch's parts, as cut made them.
	Parts []Part
	// Whole is a Split batch's fate should it not be cut after all (a part
	// fails its check): Waiting whole, for a person.
	Whole *Fate
}

// Decide tells a scan's fate from what was read of it. One that failed its
// check is rejected. A code in its name, else its folders, else on its
// receipt links it (link, receipt): it is queued. A batch whose receipts
// name several dossiers of this unit is split at them (cut). Any other
// waits for a person: no code, two codes that disagree, a code of another
// agency, a batch that cannot be cut. Decide is pure; the daemon and sohoa
// check both call it.
func (l *Linker) Decide(f Findings) Fate {
	codes, hold, detail := l.link(f.Path)
	if f.Check.Reason != "" {
		return Fate{State: store.Rejected, Reason: f.Check.Reason, Detail: f.Check.Detail, Dossiers: codes,
			Hold: hold, HoldDetail: detail, Via: l.via(f.Path, hold, "")}
	}
	codes, hold, detail, via := l.receipt(codes, hold, detail, f.Receipts)
	fate := Fate{State: store.Queued, Dossiers: codes, Hold: hold, HoldDetail: detail, Via: l.via(f.Path, hold, via),
		Blank: blanks(f.Check, f.Receipts)}
	if hold == "" {
		return fate
	}
	fate.State, fate.Reason, fate.Detail = store.Waiting, hold, detail
	if hold != reason.Batch {
		return fate
	}
	parts := l.cut(f.Receipts)
	if parts == nil {
		return fate
	}
	// A batch's blank pages are told from its pages alone, its receipts'
	// among them (withoutBlanks keeps a part's pages when all would go).
	split := Fate{State: store.Split, Blank: blanks(f.Check, nil), Parts: parts, Whole: &fate}
	for _, p := range parts {
		if p.Code == "" {
			continue // the pages before the first receipt, held
		}
		split.Dossiers = append(split.Dossiers, p.Code)
		if split.Via == "" {
			split.Via = p.Symbology
		}
	}
	return split
}

// via says how the code that links the scan at p was found: by a receipt
// (its symbology, as receipt gives it), else in its name or a folder; ""
// when hold says no code links it.
func (l *Linker) via(p string, hold reason.Code, receipt string) string {
	switch {
	case hold != "":
		return ""
	case receipt != "":
		return receipt
	case len(l.Grammar.Find(path.Base(strings.ReplaceAll(p, `\`, "/")))) > 0:
		return viaName
	}
	return viaFolder
}

// BlankDropped counts the blank pages left out of what is uploaded: Blank,
// less those of a batch's part that would lose every page (it keeps them).
func (f Fate) BlankDropped() int {
	if f.State != store.Split {
		return len(f.Blank)
	}
	n := 0
	for _, lost := range withoutBlanks(slices.Clone(f.Parts), f.Blank, false) {
		n += lost
	}
	return n
}
