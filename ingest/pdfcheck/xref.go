package pdfcheck

import (
	"bytes"
	"fmt"
)

// Bounds for checking a hostile file's cross-reference data.
const (
	maxSections    = 256       // startxref plus /Prev links followed
	maxEntries     = 4_000_000 // classic table entries checked, all sections together
	trailerWindow  = 16 << 10  // bytes after a classic table searched for /Prev and /XRefStm
	xrefDictWindow = 4 << 10   // bytes of a cross-reference stream's dictionary searched
)

// xrefProblem reports why the file's own cross-reference data cannot be used
// as written, or "" when it can. It follows startxref and the /Prev chain and
// checks that every in-use entry of a classic table points at an object
// header; a cross-reference stream only has to be an object with /Type /XRef
// (its compressed entries are pdfcpu's business).
//
// This is how a repair is detected: when the table is unusable pdfcpu
// silently rebuilds it by scanning the whole file for objects, and reports
// that only to its global loggers.
func xrefProblem(b []byte) string {
	i := bytes.LastIndex(b, []byte("startxref"))
	if i < 0 {
		return "no startxref"
	}
	off, _, ok := readUint(b, skipSpace(b, i+len("startxref")))
	if !ok {
		return "startxref without an offset"
	}
	seen := map[int64]bool{}
	budget := maxEntries
	for from := "startxref"; ; from = "/Prev" {
		switch {
		case off <= 0 || off >= int64(len(b)):
			return fmt.Sprintf("%s offset %d outside the file", from, off)
		case seen[off]:
			return fmt.Sprintf("sections loop at offset %d", off)
		case len(seen) == maxSections:
			return fmt.Sprintf("more than %d sections", maxSections)
		}
		seen[off] = true
		var (
			prev int64
			why  string
		)
		p := skipSpace(b, int(off))
		switch {
		case bytes.HasPrefix(b[p:], []byte("xref")):
			prev, why = classicSection(b, p+len("xref"), &budget)
		case objectHeader(b, p):
			prev, why = streamSection(b, p)
		default:
			return fmt.Sprintf("%s offset %d is not a cross-reference section", from, off)
		}
		if why != "" {
			return why
		}
		if prev < 0 {
			return ""
		}
		off = prev
	}
}

// classicSection checks the table starting at p (after the keyword "xref")
// and returns its trailer's /Prev, or -1 when there is none.
func classicSection(b []byte, p int, budget *int) (prev int64, why string) {
	for {
		p = skipSpace(b, p)
		if bytes.HasPrefix(b[p:], []byte("trailer")) {
			break
		}
		first, q, ok1 := readUint(b, p)
		count, q, ok2 := readUint(b, skipSpace(b, q))
		if !ok1 || !ok2 {
			return 0, fmt.Sprintf("malformed subsection at offset %d", p)
		}
		if count > int64(len(b)-q)/18 {
			return 0, fmt.Sprintf("subsection of %d entries runs past the end of the file", count)
		}
		if *budget -= int(count); *budget < 0 {
			return 0, fmt.Sprintf("more than %d entries", maxEntries)
		}
		p = q
		for i := range count {
			o, q, ok1 := readUint(b, skipSpace(b, p))
			_, q, ok2 := readUint(b, skipSpace(b, q))
			q = skipSpace(b, q)
			if !ok1 || !ok2 || q >= len(b) || (b[q] != 'n' && b[q] != 'f') {
				return 0, fmt.Sprintf("malformed entry for object %d", first+i)
			}
			if b[q] == 'n' && first+i != 0 && !objectAt(b, o) {
				return 0, fmt.Sprintf("object %d: offset %d is not an object", first+i, o)
			}
			p = q + 1
		}
	}
	trailer := b[p:min(len(b), p+trailerWindow)]
	if j := bytes.Index(trailer, []byte("startxref")); j >= 0 {
		trailer = trailer[:j]
	}
	if x, found, ok := uintKey(trailer, "/XRefStm"); found && (!ok || !objectAt(b, x)) {
		return 0, "/XRefStm is not the offset of an object"
	}
	return prevKey(trailer)
}

// prevKey returns the /Prev offset in a trailer dictionary's text, or -1.
func prevKey(d []byte) (int64, string) {
	v, found, ok := uintKey(d, "/Prev")
	switch {
	case !found:
		return -1, ""
	case !ok:
		return 0, "/Prev is not an offset"
	}
	return v, ""
}

// streamSection checks the cross-reference stream object at p and returns
// its /Prev, or -1 when there is none.
func streamSection(b []byte, p int) (prev int64, why string) {
	d := b[p:min(len(b), p+xrefDictWindow)]
	if j := bytes.Index(d, []byte("stream")); j >= 0 {
		d = d[:j]
	}
	if !nameKey(d, "/Type", "/XRef") {
		return 0, fmt.Sprintf("object at offset %d is not a cross-reference stream", p)
	}
	return prevKey(d)
}

// objectAt reports whether an object header ("12 0 obj") starts at offset o,
// after optional white space.
func objectAt(b []byte, o int64) bool {
	return o >= 0 && o < int64(len(b)) && objectHeader(b, skipSpace(b, int(o)))
}

func objectHeader(b []byte, p int) bool {
	_, q, ok := readUint(b, p)
	if !ok || q >= len(b) || !isSpace(b[q]) {
		return false
	}
	if _, q, ok = readUint(b, skipSpace(b, q)); !ok {
		return false
	}
	return bytes.HasPrefix(b[skipSpace(b, q):], []byte("obj"))
}

// uintKey finds the name key (not a longer name starting with it) in a
// dictionary's text and returns the unsigned integer that follows it; ok is
// false when the key is found with another kind of value.
func uintKey(d []byte, key string) (v int64, found, ok bool) {
	for p := 0; ; {
		j := bytes.Index(d[p:], []byte(key))
		if j < 0 {
			return 0, false, false
		}
		p += j + len(key)
		if p < len(d) && !isSpace(d[p]) && !isDelim(d[p]) {
			continue
		}
		v, q, ok := readUint(d, skipSpace(d, p))
		if ok && q < len(d) && d[q] >= '0' && d[q] <= '9' { // more than 18 digits
			ok = false
		}
		return v, true, ok
	}
}

// nameKey reports whether key is followed by the name value in d.
func nameKey(d []byte, key, value string) bool {
	for p := 0; ; {
		j := bytes.Index(d[p:], []byte(key))
		if j < 0 {
			return false
		}
		p += j + len(key)
		q := skipSpace(d, p)
		if bytes.HasPrefix(d[q:], []byte(value)) {
			if e := q + len(value); e == len(d) || isSpace(d[e]) || isDelim(d[e]) {
				return true
			}
		}
	}
}

// readUint reads up to 18 decimal digits at p.
func readUint(b []byte, p int) (v int64, next int, ok bool) {
	q := p
	for q < len(b) && q-p < 18 && b[q] >= '0' && b[q] <= '9' {
		v = v*10 + int64(b[q]-'0')
		q++
	}
	return v, q, q > p
}

func skipSpace(b []byte, p int) int {
	for p < len(b) && isSpace(b[p]) {
		p++
	}
	return p
}

func isSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}
