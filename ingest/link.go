package ingest

import (
	"fmt"
	"path"
	"strings"

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
