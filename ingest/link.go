package ingest

import (
	"fmt"
	"path"
	"strings"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/reason"
)

// Linker finds the dossier a scan belongs to from where staff saved it. It is
// safe for concurrent use.
type Linker struct {
	Grammar       *dossier.Grammar
	Ward          string // this unit's agency code
	AcceptForeign bool   // link codes of other agencies instead of holding them
	SkipFolder    string // a folder name that never carries a code (the waiting folder)
}

// Link looks for a code in the file name, then in each parent folder from the
// innermost out. rel is the slash-separated path under the inbox. It returns
// the code, or a hold reason with an English detail. Two different codes in
// one name are never resolved by guessing.
func (l *Linker) Link(rel string) (codes []string, r reason.Code, detail string) {
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

// Receipt combines what the name said (codes, hold, detail from Link) with
// the receipts found on the scan's pages, in linking order: name, folder,
// then barcode. A receipt's code links a scan the name did not; a name and
// a receipt that disagree, several receipts in one file (a batch), or a
// receipt after other pages hold the scan for a person rather than guess.
// via says how the code was found when the barcode linked it ("qr" or
// "code128"), "" otherwise.
func (l *Linker) Receipt(codes []string, hold reason.Code, detail string, pages []barcode.Page) (_ []string, _ reason.Code, _ string, via string) {
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
		linked, h, d := l.Link(bc.Code)
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

// Split cuts a batch at its receipts: a new part starts at each receipt page
// whose code differs from the part before. Pages before the first receipt
// that are not blank make a first part without a code, to be held for a
// person while the receipts' parts go on. It returns nil unless every
// receipt carries one code, every code is this unit's (or foreign codes are
// accepted), and the file is more than one part.
func (l *Linker) Split(pages []barcode.Page) []Part {
	var lead Part
	var parts []Part
	for _, p := range pages {
		switch {
		case len(p.Codes) > 1:
			return nil
		case len(p.Codes) == 1 && (len(parts) == 0 || parts[len(parts)-1].Code != p.Codes[0].Code):
			if _, h, _ := l.Link(p.Codes[0].Code); h != "" {
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
