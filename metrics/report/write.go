package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// withResolution reports whether any row has resolution columns.
func withResolution(rows []Row) bool {
	for _, r := range rows {
		if r.Resolution != nil {
			return true
		}
	}
	return false
}

// Cells are the table as the letter prints it: the header (Columns) and
// each row's printed cells. Ward rows are numbered in STT from 1 in order;
// the total row has none.
func Cells(rows []Row) (header []string, body [][]string) {
	res := withResolution(rows)
	header = Columns(res)
	stt := 0
	for _, r := range rows {
		num := ""
		if !r.Total {
			stt++
			num = strconv.Itoa(stt)
		}
		c := []string{num, r.Name, strconv.Itoa(r.Received), strconv.Itoa(r.Digitized), r.RateText()}
		switch {
		case res && r.Resolution != nil:
			x := r.Resolution
			c = append(c, strconv.Itoa(x.OnTime), strconv.Itoa(x.Late), strconv.Itoa(x.PendingNotDue),
				strconv.Itoa(x.PendingOverdue), r.PerDayText())
		case res:
			c = append(c, "", "", "", "", "")
		}
		body = append(body, c)
	}
	return header, body
}

// WriteCSV writes rows as the town's table: UTF-8 with a byte-order mark
// (so Excel reads the Vietnamese right), CRLF, quoted per RFC 4180, a header
// row of exactly the column names, the resolution columns only when some
// row has them. A ward sends this file to the town, whose Merge reads it.
func WriteCSV(w io.Writer, rows []Row) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("report CSV: %w", err)
	}
	header, body := Cells(rows)
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("report CSV: %w", err)
	}
	if err := cw.WriteAll(body); err != nil {
		return fmt.Errorf("report CSV: %w", err)
	}
	return nil
}

// WriteTable writes rows as a plain-text table for a terminal: names to the
// left, numbers to the right, columns padded by character count.
func WriteTable(w io.Writer, rows []Row) error {
	header, body := Cells(rows)
	all := append([][]string{header}, body...)
	width := make([]int, len(header))
	for _, line := range all {
		for i, c := range line {
			width[i] = max(width[i], utf8.RuneCountInString(norm.NFC.String(c)))
		}
	}
	var b strings.Builder
	for _, line := range all {
		for i, c := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(norm.NFC.String(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, strings.ReplaceAll(b.String(), " \n", "\n")); err != nil {
		return fmt.Errorf("report table: %w", err)
	}
	return nil
}

// ErrMerge is wrapped by every error about the content of a ward's file.
var ErrMerge = errors.New("cannot merge")

// Merge reads wards' CSV files as WriteCSV writes them and returns the
// town's table: their ward rows in the order given, renumbered, and a
// TỔNG SỐ row (see Total). TỔNG SỐ rows in the files are ignored. Each
// printed rate is checked against its counts, and each resolution against
// the received count, so a hand-edited file is caught; two rows with the
// same name are an error. A reader with a Name method (an *os.File) is
// named by it in errors.
func Merge(files ...io.Reader) ([]Row, error) {
	var rows []Row
	seen := map[string]string{}
	for i, f := range files {
		name := fmt.Sprintf("file %d", i+1)
		if n, ok := f.(interface{ Name() string }); ok {
			name = n.Name()
		}
		got, err := readCSV(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, r := range got {
			key := strings.ToLower(r.Name)
			if prev, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: %w: %q is also in %s", name, ErrMerge, r.Name, prev)
			}
			seen[key] = name
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no ward rows", ErrMerge)
	}
	return append(rows, Total(rows)), nil
}

// readCSV reads one file written by WriteCSV.
func readCSV(f io.Reader) ([]Row, error) {
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMerge, err)
	}
	for i := range header {
		header[i] = norm.NFC.String(strings.TrimSpace(strings.TrimPrefix(header[i], "\uFEFF")))
	}
	var res bool
	switch strings.Join(header, "|") {
	case strings.Join(Columns(false), "|"):
	case strings.Join(Columns(true), "|"):
		res = true
	default:
		return nil, fmt.Errorf("%w: header %q is not the town's (%q, optionally followed by %q)", ErrMerge,
			header, Columns(false), Columns(true)[5:])
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMerge, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%w: line %d has %d columns, the header %d", ErrMerge, line, len(rec), len(header))
		}
		r, err := parseRow(rec, res)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrMerge, line, err)
		}
		if !r.Total {
			rows = append(rows, r)
		}
	}
}

func parseRow(rec []string, res bool) (Row, error) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	r := Row{Name: norm.NFC.String(rec[1])}
	if r.Name == "" {
		return r, fmt.Errorf("no %s", ColName)
	}
	if strings.EqualFold(r.Name, TotalName) {
		r.Total = true
		return r, nil
	}
	count := func(i int) (int, error) {
		n, err := strconv.Atoi(rec[i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s %q is not a count", Columns(true)[i], rec[i])
		}
		return n, nil
	}
	var err error
	if r.Received, err = count(2); err != nil {
		return r, err
	}
	if r.Digitized, err = count(3); err != nil {
		return r, err
	}
	if r.Digitized > r.Received {
		return r, fmt.Errorf("%s %d is more than %s %d", ColDigitized, r.Digitized, ColReceived, r.Received)
	}
	if want := r.RateText(); rec[4] != want {
		return r, fmt.Errorf("%s %q does not match %d/%d, which prints %q", ColRate, rec[4], r.Digitized, r.Received, want)
	}
	if !res || strings.Join(rec[5:], "") == "" {
		return r, nil
	}
	x := &Resolution{}
	for i, p := range []*int{&x.OnTime, &x.Late, &x.PendingNotDue, &x.PendingOverdue} {
		if *p, err = count(5 + i); err != nil {
			return r, err
		}
	}
	if sum := x.OnTime + x.Late + x.PendingNotDue + x.PendingOverdue; sum != r.Received {
		return r, fmt.Errorf("the resolution columns add up to %d, not %s %d", sum, ColReceived, r.Received)
	}
	c, ok := ParseNumber(rec[9])
	if !ok {
		return r, fmt.Errorf("%s %q is not a number as the report prints it", ColPerDay, rec[9])
	}
	x.PerDay = Ratio{c, 100}
	r.Resolution = x
	return r, nil
}
