package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/unicode"
)

// readCSV decodes a CSV export: UTF-8 with or without a byte-order mark, or
// UTF-16 with one (Excel's "Unicode Text"); the delimiter is the one of
// comma, semicolon and tab under which a header row appears.
func readCSV(data []byte) (sheet, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		d, err := dec.Bytes(data)
		if err != nil {
			return sheet{}, fmt.Errorf("%w: bad UTF-16: %v", ErrNotUTF8, err)
		}
		data = d
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		line, b := firstInvalid(data)
		return sheet{}, fmt.Errorf("%w (line %d has byte 0x%02X: probably Windows-1258 or Windows-1252); "+
			"in Excel choose File > Save As > \"CSV UTF-8 (Comma delimited)\", in LibreOffice tick "+
			"\"Edit filter settings\" and choose Unicode (UTF-8)", ErrNotUTF8, line, b)
	}
	comma := detectComma(data)
	recs, err := readRecords(data, comma, -1)
	if err != nil {
		return sheet{}, err
	}
	return sheet{records: recs}, nil
}

// detectComma returns the first of comma, semicolon and tab under which a
// header row appears in the first rows; comma when none does.
func detectComma(data []byte) rune {
	for _, c := range []rune{',', ';', '\t'} {
		recs, _ := readRecords(data, c, headerScan)
		for _, rec := range recs {
			if _, ok, _ := mapHeader(rec.cells); ok {
				return c
			}
		}
	}
	return ','
}

// readRecords parses at most limit records (all when limit < 0).
func readRecords(data []byte, comma rune, limit int) ([]record, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	var recs []record
	for limit < 0 || len(recs) < limit {
		cells, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return recs, fmt.Errorf("CSV: %w", err)
		}
		line, _ := r.FieldPos(0)
		recs = append(recs, record{line: line, cells: cells})
	}
	return recs, nil
}

// firstInvalid finds the line and value of the first byte that is not
// UTF-8 (or a NUL).
func firstInvalid(data []byte) (line int, b byte) {
	line = 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 || r == 0 {
			return line, data[i]
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return line, 0
}

// readXLSX reads the first sheet of a workbook that has a header row (most
// exports have one sheet). Cells are taken raw, so date cells arrive as
// serial numbers whatever their display format.
func readXLSX(data []byte) (sheet, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    4 * MaxBytes,
		UnzipXMLSizeLimit: MaxBytes,
	})
	if err != nil {
		return sheet{}, fmt.Errorf("%w: not a readable XLSX workbook: %v", ErrFormat, err)
	}
	defer f.Close()
	props, err := f.GetWorkbookProps()
	if err != nil {
		return sheet{}, fmt.Errorf("XLSX workbook properties: %w", err)
	}
	date1904 := props.Date1904 != nil && *props.Date1904
	var first sheet
	for i, name := range f.GetSheetList() {
		rows, err := f.GetRows(name, excelize.Options{RawCellValue: true})
		if err != nil {
			return sheet{}, fmt.Errorf("XLSX sheet %q: %w", name, err)
		}
		sh := sheet{serialDates: true, date1904: date1904}
		for j, cells := range rows {
			sh.records = append(sh.records, record{line: j + 1, cells: cells})
		}
		if i == 0 {
			first = sh
		}
		for _, rec := range sh.records[:min(len(sh.records), headerScan)] {
			if _, ok, _ := mapHeader(rec.cells); ok {
				return sh, nil
			}
		}
	}
	return first, nil // findHeader explains what is missing
}

// isSerial reports whether s is a spreadsheet date serial: digits with an
// optional fraction.
func isSerial(s string) (float64, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
