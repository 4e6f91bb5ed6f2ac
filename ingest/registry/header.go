package registry

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// field is a column Parse knows.
type field int

const (
	fieldCode field = iota
	fieldReceived
	fieldDue
	fieldReturned
	fieldProcedure
	fieldStatus
	numFields
)

// title is the field's Vietnamese column name, for messages.
func (f field) title() string {
	return [...]string{"Mã hồ sơ", "Ngày tiếp nhận", "Hạn xử lý", "Ngày trả kết quả", "Thủ tục", "Trạng thái"}[f]
}

// aliases are the accepted header names, normalised (see normalize), per
// field, best first: when two columns name the same field, the one with the
// earlier alias wins (an export with both "Hạn trả kết quả" and "Hạn xử lý"
// is judged by the date promised to the citizen).
var aliases = [numFields][]string{
	fieldCode:      {"ma ho so", "ma hs", "dossier code", "dossier id", "code"},
	fieldReceived:  {"ngay tiep nhan", "ngay nhan", "ngay nhan ho so", "thoi gian tiep nhan", "received date", "date received", "received", "receipt date"},
	fieldDue:       {"han tra ket qua", "ngay hen tra", "ngay hen tra ket qua", "han xu ly", "han giai quyet", "due date", "due"},
	fieldReturned:  {"ngay tra ket qua", "ngay tra", "thoi gian tra ket qua", "returned date", "date returned", "return date", "returned"},
	fieldProcedure: {"thu tuc", "ten thu tuc", "thu tuc hanh chinh", "ten thu tuc hanh chinh", "procedure"},
	fieldStatus:    {"trang thai", "tinh trang", "trang thai ho so", "status"},
}

// headerScan is how many rows may precede the header (title lines, the
// unit's name, the period, blank lines).
const headerScan = 30

// columns maps each field to its cell index; -1 when absent.
type columns [numFields]int

// normalize folds a header for comparison: Vietnamese diacritics removed
// (NFD, marks dropped, đ → d), lower case, every run of characters other than
// letters and digits turned into one space, trimmed.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return b.String()
}

// mapHeader maps the cells of one row to fields. ok is false unless both
// required fields are present. A field named by two cells with the same
// alias is an error: there is no telling which to use.
func mapHeader(cells []string) (cols columns, ok bool, err error) {
	rank := [numFields]int{}
	for f := range cols {
		cols[f], rank[f] = -1, len(aliases[f])
	}
	for i, c := range cells {
		n := normalize(c)
		if n == "" {
			continue
		}
		for f := range numFields {
			for r, a := range aliases[f] {
				if n != a {
					continue
				}
				switch {
				case r < rank[f]:
					cols[f], rank[f] = i, r
				case r == rank[f]:
					return cols, false, fmt.Errorf("two columns are named %q (columns %d and %d)", strings.TrimSpace(c), cols[f]+1, i+1)
				}
			}
		}
	}
	return cols, cols[fieldCode] >= 0 && cols[fieldReceived] >= 0, nil
}

// findHeader returns the index of the header record and its column mapping.
// Before that it looks for mangled text in the rows it scans, so that a
// mangled export gets a message about its encoding rather than about
// missing columns.
func findHeader(recs []record) (int, columns, error) {
	n := min(len(recs), headerScan)
	for _, rec := range recs[:n] {
		if fixed, bad := mangledCells(rec.cells); bad != "" {
			return 0, columns{}, fmt.Errorf("%w at line %d: %q is %q read as Windows-1252; "+
				"the file was opened in a program that took UTF-8 for Windows-1252 and saved again; "+
				"export it again from the provincial system as CSV UTF-8 or XLSX", ErrMangled, rec.line, bad, fixed)
		}
		for _, c := range rec.cells {
			if like := lostLetters(c); like != "" {
				return 0, columns{}, fmt.Errorf("%w at line %d: %q is %q with its Vietnamese letters replaced by '?' "+
					"(saved in a legacy code page); export it again as CSV UTF-8 or XLSX", ErrMangled, rec.line, strings.TrimSpace(c), like)
			}
		}
	}
	for i, rec := range recs[:n] {
		cols, ok, err := mapHeader(rec.cells)
		if err != nil {
			return 0, columns{}, fmt.Errorf("header (line %d): %w", rec.line, err)
		}
		if ok {
			return i, cols, nil
		}
	}
	return 0, columns{}, fmt.Errorf("%w in the first %d rows", ErrNoHeader, headerScan)
}

// lostLetters reports whether a header cell is a known column name whose
// non-ASCII letters were replaced by '?' or U+FFFD, as exports through a
// code page without them do ("Ng?y ti?p nh?n"). It returns the name it
// stands for, or "".
func lostLetters(cell string) string {
	if len(cell) > 100 || !strings.ContainsAny(cell, "?\uFFFD") {
		return "" // column names are short
	}
	var b strings.Builder
	b.WriteString("^")
	for _, word := range strings.Fields(strings.Map(func(r rune) rune {
		if r == '\uFFFD' {
			return '?'
		}
		return r
	}, cell)) {
		if b.Len() > 1 {
			b.WriteString(" ")
		}
		for _, r := range word {
			if r == '?' {
				b.WriteString("[a-z]")
				continue
			}
			b.WriteString(regexp.QuoteMeta(normalize(string(r))))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return ""
	}
	for f := range numFields {
		for _, a := range aliases[f] {
			if strings.ContainsRune(a, ' ') && re.MatchString(a) {
				return f.title()
			}
		}
	}
	return ""
}

// mangledCells returns the first cell that is UTF-8 text read as
// Windows-1252 (or Windows-1258) and written again as UTF-8 ("MÃ£ há»“ sÆ¡"
// for "Mã hồ sơ"), with its repair; bad is "" when there is none.
// A cell whose repair has letters beats one that is only a mangled
// byte-order mark ("ï»¿"), which says less to the reader.
func mangledCells(cells []string) (fixed, bad string) {
	for _, c := range cells {
		f, ok := mojibake(c)
		if !ok {
			continue
		}
		if !isASCII(strings.TrimPrefix(f, "\uFEFF")) {
			return f, c
		}
		if bad == "" {
			fixed, bad = f, c
		}
	}
	return fixed, bad
}

// mojibake reports whether s, encoded back into Windows-1252 or
// Windows-1258, gives valid UTF-8 with multi-byte characters: the mark of
// text decoded with the wrong code page. Genuine Vietnamese never does: its
// letters outside those code pages fail the encoding, and those inside them
// are not followed by the punctuation bytes that UTF-8 continuation bytes
// decode to.
func mojibake(s string) (string, bool) {
	if isASCII(s) {
		return "", false
	}
	for _, cm := range []*charmap.Charmap{charmap.Windows1252, charmap.Windows1258} {
		b := make([]byte, 0, len(s))
		ok := true
		for _, r := range s {
			if c, in := cm.EncodeRune(r); in {
				b = append(b, c)
				continue
			}
			if r >= 0x80 && r <= 0x9F { // a byte the code page leaves undefined, passed through as a C1 control
				b = append(b, byte(r))
				continue
			}
			ok = false
			break
		}
		if ok && !isASCII(string(b)) && utf8.Valid(b) {
			return norm.NFC.String(string(b)), true
		}
	}
	return "", false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
