// Package registry reads the lists of received dossiers that wards export
// from the provincial one-stop system (CSV or XLSX) into rows of the
// registry: dossier code, received date and, when the export has them, due
// and returned dates, procedure and status. It only parses and checks; it
// keeps nothing.
//
// Columns are found by their header, Vietnamese with or without diacritics,
// in any case, or English ("Mã hồ sơ", "Ma ho so", "Dossier code"). The
// header may follow a few title lines. Dates are dd/mm/yyyy with an optional
// time, ISO 8601 / RFC 3339, or spreadsheet date cells. A CSV must be UTF-8
// (with or without a byte-order mark) or UTF-16 with a byte-order mark; a
// file in a legacy code page, or one whose Vietnamese letters were mangled by
// passing through one, is refused with a message saying how to export it
// again.
package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// MaxBytes is the largest file Parse reads. A ward's export for a year is a
// few megabytes.
const MaxBytes = 64 << 20

// Errors that refuse a whole file. They are wrapped with the file name and
// details; test with errors.Is.
var (
	// ErrNotUTF8: a CSV whose bytes are not UTF-8 (Windows-1258, Windows-1252, TCVN3...).
	ErrNotUTF8 = errors.New("not UTF-8: save as CSV UTF-8")
	// ErrMangled: UTF-8 text whose Vietnamese letters were destroyed on the way
	// (read as Windows-1252 and saved again, or replaced by '?').
	ErrMangled = errors.New("Vietnamese letters are mangled") //nolint:staticcheck // ST1005: "Vietnamese" is a proper noun
	// ErrNoHeader: no row names both the dossier code and the received date columns.
	ErrNoHeader = errors.New("no header row with the columns Mã hồ sơ and Ngày tiếp nhận")
	// ErrFormat: neither a CSV nor an XLSX workbook (an old .xls, an HTML page, a PDF...).
	ErrFormat = errors.New("not a CSV or XLSX file")
	// ErrTooLarge: the file is over MaxBytes.
	ErrTooLarge = errors.New("file too large")
)

// Problem is a row that Parse did not return, and why.
type Problem struct {
	// Line is the row's line or row number, as in dossier.Record.Line.
	Line int
	// Code is the row's dossier code as written, when it has one.
	Code string
	// Reason says what is wrong, in English, naming the column and value.
	Reason string
	// Foreign is true when the only fault is that the code is another
	// agency's: the caller may list such rows without counting them as bad.
	Foreign bool
}

// String is the problem as a line for a person: "line 7: missing Mã hồ sơ".
func (p Problem) String() string {
	return fmt.Sprintf("line %d: %s", p.Line, p.Reason)
}

// record is one row of cells as read from a file.
type record struct {
	line  int
	cells []string
}

// sheet is what a CSV or XLSX reader hands to the row parser.
type sheet struct {
	records []record
	// serialDates: a purely numeric date cell is a spreadsheet date serial
	// (XLSX); in a CSV it is an error.
	serialDates bool
	date1904    bool
}

// Parse reads one registry export. name is used in messages only; the
// format is found from the content (an XLSX file is a zip archive, anything
// else is taken as CSV). g checks the codes; ward, when not empty, is this
// unit's agency code and rows of other agencies become Problems with
// Foreign set.
//
// err refuses the whole file (unreadable, wrong encoding, mangled text, no
// header). Otherwise rows are the good rows in file order and problems the
// bad ones; a code that appears twice with the same data is returned once, a
// code that appears twice with different data is a problem on every line it
// appears on and is not returned.
func Parse(r io.Reader, name string, g *dossier.Grammar, ward string) (rows []dossier.Record, problems []Problem, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxBytes {
		return nil, nil, fmt.Errorf("%s: %w (over %d MiB)", name, ErrTooLarge, MaxBytes>>20)
	}
	var sh sheet
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		sh, err = readXLSX(data)
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}):
		err = fmt.Errorf("%w: an Excel 97-2003 workbook (.xls); open it and save as .xlsx or as CSV UTF-8", ErrFormat)
	case bytes.HasPrefix(data, []byte("%PDF")):
		err = fmt.Errorf("%w: a PDF", ErrFormat)
	case looksHTML(data):
		err = fmt.Errorf("%w: an HTML page (some systems name them .xls); open it in Excel and save as .xlsx or as CSV UTF-8", ErrFormat)
	default:
		sh, err = readCSV(data)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	rows, problems, err = parseSheet(sh, g, ward)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return rows, problems, nil
}

func looksHTML(data []byte) bool {
	head := bytes.ToLower(bytes.TrimLeft(bytes.TrimPrefix(data[:min(len(data), 512)], []byte("\xEF\xBB\xBF")), " \t\r\n"))
	for _, p := range []string{"<!doctype html", "<html", "<table", "<?xml"} {
		if bytes.HasPrefix(head, []byte(p)) {
			return true
		}
	}
	return false
}

// parseSheet finds the header, then turns every later non-empty record into
// a dossier.Record or a Problem.
func parseSheet(sh sheet, g *dossier.Grammar, ward string) ([]dossier.Record, []Problem, error) {
	hi, cols, err := findHeader(sh.records)
	if err != nil {
		return nil, nil, err
	}
	var names [numFields]string // the file's own column names, for messages
	for f, i := range cols {
		names[f] = field(f).title()
		if i >= 0 {
			if n := strings.Join(strings.Fields(sh.records[hi].cells[i]), " "); n != "" {
				names[f] = strings.TrimPrefix(n, "\uFEFF")
			}
		}
	}
	ward = dossier.Canonical(ward)
	var (
		rows     []dossier.Record
		problems []Problem
		first    = map[string]int{} // code → index in rows of its first good occurrence
		conflict = map[string][]int{}
	)
	for _, rec := range sh.records[hi+1:] {
		if blank(rec.cells) {
			continue
		}
		if fixed, bad := mangledCells(rec.cells); bad != "" {
			return nil, nil, fmt.Errorf("%w at line %d: %q reads %q when repaired: the file was opened in a program that "+
				"took UTF-8 for Windows-1252 and saved again; export it again from the provincial system as CSV UTF-8 or XLSX",
				ErrMangled, rec.line, bad, fixed)
		}
		row, p, ok := parseRow(rec, cols, names, sh, g, ward)
		if !ok {
			problems = append(problems, p)
			continue
		}
		if i, seen := first[row.Code]; seen {
			if sameData(rows[i], row) {
				continue
			}
			conflict[row.Code] = append(conflict[row.Code], row.Line)
			continue
		}
		first[row.Code] = len(rows)
		rows = append(rows, row)
	}
	if len(conflict) > 0 {
		kept := rows[:0:0]
		for _, row := range rows {
			lines, bad := conflict[row.Code]
			if !bad {
				kept = append(kept, row)
				continue
			}
			all := append([]int{row.Line}, lines...)
			for _, l := range all {
				problems = append(problems, Problem{Line: l, Code: row.Code, Reason: fmt.Sprintf(
					"dossier code %s appears on lines %s with different data", row.Code, joinInts(all))})
			}
		}
		rows = kept
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
	}
	return rows, problems, nil
}

func sameData(a, b dossier.Record) bool {
	a.Line, b.Line = 0, 0
	return a.Code == b.Code && a.Received.Equal(b.Received) && a.Due.Equal(b.Due) && a.Returned.Equal(b.Returned) &&
		a.Procedure == b.Procedure && a.Status == b.Status
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// parseRow checks one data record. ok is false when the record is a problem.
func parseRow(rec record, cols columns, names [numFields]string, sh sheet, g *dossier.Grammar, ward string) (row dossier.Record, p Problem, ok bool) {
	var v [numFields]string
	for f, i := range cols {
		if i >= 0 && i < len(rec.cells) {
			v[f] = strings.TrimSpace(rec.cells[i])
		}
	}
	return checkRow(rec.line, v, names, func(s string) (time.Time, error) {
		return parseDate(s, sh.serialDates, sh.date1904)
	}, g, ward)
}

// Fields are one dossier's values as text, as a source other than an
// export file gives them (the provincial system's search API); "" is
// absent.
type Fields struct {
	Code, Received, Due, Returned, Procedure, Status string
}

// Check makes a dossier.Record of one dossier's fields by the rules Parse
// applies to a file's row: the code canonical, valid by g and, when ward is
// not empty, of that agency (else the Problem has Foreign set); the received
// date required; dates dd/mm/yyyy with an optional time, or ISO 8601 / RFC 3339.
// names labels the fields in reasons (a JSON path, say); an empty name is
// the Vietnamese column title. line goes to Record.Line and Problem.Line.
func Check(line int, f, names Fields, g *dossier.Grammar, ward string) (dossier.Record, Problem, bool) {
	v := [numFields]string{f.Code, f.Received, f.Due, f.Returned, f.Procedure, f.Status}
	n := [numFields]string{names.Code, names.Received, names.Due, names.Returned, names.Procedure, names.Status}
	for i := range v {
		v[i] = strings.TrimSpace(v[i])
		if n[i] == "" {
			n[i] = field(i).title()
		}
	}
	return checkRow(line, v, n, func(s string) (time.Time, error) { return parseDate(s, false, false) },
		g, dossier.Canonical(ward))
}

// checkRow checks one dossier's trimmed values; ward is canonical.
func checkRow(line int, v, names [numFields]string, parse func(string) (time.Time, error), g *dossier.Grammar, ward string) (row dossier.Record, p Problem, ok bool) {
	row.Line = line
	p.Line = line
	raw := v[fieldCode]
	p.Code = raw
	if raw == "" {
		p.Reason = "missing " + names[fieldCode]
		return row, p, false
	}
	code := dossier.Canonical(raw)
	if !g.Valid(code) {
		p.Reason = fmt.Sprintf("%s %q is not a dossier code", names[fieldCode], raw)
		return row, p, false
	}
	row.Code = code
	var reasons []string
	if ward != "" {
		if a := dossier.Agency(code); a != ward {
			reasons = append(reasons, fmt.Sprintf("dossier code %s belongs to agency %s, not to this ward (%s)", code, a, ward))
			p.Foreign = true
		}
	}
	date := func(f field, required bool) time.Time {
		s := v[f]
		if s == "" {
			if required {
				reasons = append(reasons, "missing "+names[f])
			}
			return time.Time{}
		}
		t, err := parse(s)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s %q: %v", names[f], s, err))
		}
		return t
	}
	row.Received = date(fieldReceived, true)
	row.Due = date(fieldDue, false)
	row.Returned = date(fieldReturned, false)
	if !row.Received.IsZero() && !row.Returned.IsZero() && day(row.Returned).Before(day(row.Received)) {
		reasons = append(reasons, fmt.Sprintf("%s %s is before %s %s", names[fieldReturned],
			row.Returned.Format("02/01/2006"), names[fieldReceived], row.Received.Format("02/01/2006")))
	}
	row.Procedure = norm.NFC.String(v[fieldProcedure])
	row.Status = norm.NFC.String(v[fieldStatus])
	if len(reasons) > 0 {
		if len(reasons) > 1 {
			p.Foreign = false
		}
		p.Reason = strings.Join(reasons, "; ")
		return dossier.Record{}, p, false
	}
	return row, Problem{}, true
}

// day is t's calendar day in ICT, at midnight.
func day(t time.Time) time.Time {
	t = t.In(dossier.ICT())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}
