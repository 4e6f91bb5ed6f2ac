// Package xlsx writes the town's digitization report (package report) as
// the XLSX annex to an official letter. It is apart from report so that
// what computes the report, and the metrics that use it, do not link the
// spreadsheet library.
package xlsx

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/sohoa/sohoa/metrics/report"
)

// SheetName is the name of the annex's only sheet.
const SheetName = "Phụ lục"

// Layout of the annex: title, period, a blank row, the header, the rows.
const (
	titleRow  = 1
	periodRow = 2
	headerRow = 4
	firstRow  = 5
)

// font is the one official Vietnamese documents use (Decree 30/2020/NĐ-CP).
const font = "Times New Roman"

// colWidths are the widths of the columns of report.Columns(true), in characters.
var colWidths = []float64{6, 28, 10, 10, 12, 13, 13, 15, 13, 14}

// Write writes rows as an annex to an official letter: title (e.g.
// "BẢNG TỔNG HỢP TÌNH HÌNH TIẾP NHẬN VÀ SỐ HÓA HỒ SƠ") and period (e.g. "Từ
// ngày 16/12/2019 đến ngày 18/3/2020") centred over the table, a bold
// header, thin borders on every cell, set column widths, Times New Roman,
// A4 landscape fitted to one page wide. Counts are numbers; rates and
// dossiers per day are numbers with the decimals the letter prints (a
// Vietnamese-locale spreadsheet shows "62,40" and "71,3"); "-" stays text.
func Write(w io.Writer, title, period string, rows []report.Row) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := write(f, title, period, rows); err != nil {
		return fmt.Errorf("report XLSX: %w", err)
	}
	if err := f.Write(w); err != nil {
		return fmt.Errorf("report XLSX: %w", err)
	}
	return nil
}

func write(f *excelize.File, title, period string, rows []report.Row) error {
	if err := f.SetSheetName(f.GetSheetName(0), SheetName); err != nil {
		return err
	}
	s := SheetName
	header, body := report.Cells(rows)
	last, err := excelize.ColumnNumberToName(len(header))
	if err != nil {
		return err
	}
	border := []excelize.Border{
		{Type: "left", Color: "000000", Style: 1}, {Type: "right", Color: "000000", Style: 1},
		{Type: "top", Color: "000000", Style: 1}, {Type: "bottom", Color: "000000", Style: 1},
	}
	center := &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}
	styles := map[string]*excelize.Style{
		"title":  {Font: &excelize.Font{Family: font, Size: 13, Bold: true}, Alignment: center},
		"period": {Font: &excelize.Font{Family: font, Size: 12, Italic: true}, Alignment: center},
		"header": {Font: &excelize.Font{Family: font, Size: 12, Bold: true}, Alignment: center, Border: border},
		"name":   {Font: &excelize.Font{Family: font, Size: 12}, Alignment: &excelize.Alignment{Vertical: "center", WrapText: true, Indent: 1}, Border: border},
		"text":   {Font: &excelize.Font{Family: font, Size: 12}, Alignment: center, Border: border},
		"stt":    {Font: &excelize.Font{Family: font, Size: 12}, Alignment: center, Border: border, NumFmt: 1},
	}
	// Numbers: one style per decimal count, plain and bold (the total row).
	for _, bold := range []bool{false, true} {
		for dec, fmtCode := range []string{"0_)", "[$-42A]0.0_)", "[$-42A]0.00_)"} {
			styles[numStyle(dec, bold)] = &excelize.Style{
				Font:         &excelize.Font{Family: font, Size: 12, Bold: bold},
				Alignment:    &excelize.Alignment{Horizontal: "right", Vertical: "center"},
				Border:       border,
				CustomNumFmt: &fmtCode,
			}
		}
	}
	styles["name bold"] = &excelize.Style{Font: &excelize.Font{Family: font, Size: 12, Bold: true},
		Alignment: &excelize.Alignment{Vertical: "center", Indent: 1}, Border: border}
	styles["text bold"] = &excelize.Style{Font: &excelize.Font{Family: font, Size: 12, Bold: true}, Alignment: center, Border: border}
	id := map[string]int{}
	for k, st := range styles {
		if id[k], err = f.NewStyle(st); err != nil {
			return fmt.Errorf("style %s: %w", k, err)
		}
	}

	cell := func(col, row int) string {
		c, _ := excelize.CoordinatesToCellName(col, row)
		return c
	}
	for _, line := range []struct {
		row   int
		text  string
		style string
	}{{titleRow, title, "title"}, {periodRow, period, "period"}} {
		a, b := cell(1, line.row), last+strconv.Itoa(line.row)
		if err := f.SetCellStr(s, a, line.text); err != nil {
			return err
		}
		if err := f.MergeCell(s, a, b); err != nil {
			return err
		}
		if err := f.SetCellStyle(s, a, b, id[line.style]); err != nil {
			return err
		}
	}
	if err := f.SetRowHeight(s, titleRow, 22); err != nil {
		return err
	}
	for i, h := range header {
		if err := f.SetCellStr(s, cell(i+1, headerRow), h); err != nil {
			return err
		}
		col, err := excelize.ColumnNumberToName(i + 1)
		if err != nil {
			return err
		}
		if err := f.SetColWidth(s, col, col, colWidths[i]); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(s, cell(1, headerRow), cell(len(header), headerRow), id["header"]); err != nil {
		return err
	}
	if err := f.SetRowHeight(s, headerRow, 48); err != nil {
		return err
	}
	for i, line := range body {
		row := firstRow + i
		bold := rows[i].Total
		if err := f.SetRowHeight(s, row, 18); err != nil {
			return err
		}
		for j, c := range line {
			ref := cell(j+1, row)
			v, dec, isNum := value(c)
			var style string
			switch {
			case j == 1:
				style = "name"
				err = f.SetCellStr(s, ref, c)
			case j == 0 && isNum:
				style = "stt"
				err = f.SetCellFloat(s, ref, v, 0, 64)
			case isNum:
				style = numStyle(dec, bold)
				err = f.SetCellFloat(s, ref, v, -1, 64)
			default:
				style = "text"
				err = f.SetCellStr(s, ref, c)
			}
			if err != nil {
				return err
			}
			if bold && (style == "name" || style == "text") {
				style += " bold"
			}
			if err := f.SetCellStyle(s, ref, ref, id[style]); err != nil {
				return err
			}
		}
	}
	if err := f.SetPageLayout(s, &excelize.PageLayoutOptions{
		Orientation: ptr("landscape"), Size: ptr(9), FitToWidth: ptr(1), FitToHeight: ptr(0),
	}); err != nil {
		return err
	}
	if err := f.SetSheetProps(s, &excelize.SheetPropsOptions{FitToPage: ptr(true)}); err != nil {
		return err
	}
	return f.SetDocProps(&excelize.DocProperties{Title: title, Subject: period, Language: "vi-VN", Creator: "sohoa"})
}

func numStyle(decimals int, bold bool) string {
	if bold {
		return fmt.Sprintf("num%d bold", decimals)
	}
	return fmt.Sprintf("num%d", decimals)
}

func ptr[T any](v T) *T { return &v }

// value is a number as the report prints it ("62,40") as a float64 and its
// count of decimals; ok is false for anything else ("-").
func value(s string) (v float64, decimals int, ok bool) {
	c, ok := report.ParseNumber(s)
	if !ok {
		return 0, 0, false
	}
	_, frac, _ := strings.Cut(s, ",")
	return float64(c) / 100, len(frac), true
}
