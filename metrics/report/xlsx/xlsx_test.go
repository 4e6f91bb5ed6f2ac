package xlsx

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/sohoa/sohoa/ingest/testenv"
	"github.com/sohoa/sohoa/metrics/report"
)

// letterCSV is the letter's table as report.WriteCSV writes it (the
// report's tests keep it so).
var letterCSV = filepath.Join("..", "testdata", "huong-tra-2020.csv")

// letterRows are the letter's 15 wards and total as report.Rows.
func letterRows(t *testing.T) []report.Row {
	t.Helper()
	f, err := os.Open(letterCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := report.Merge(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

const (
	annexTitle  = "BẢNG TỔNG HỢP TÌNH HÌNH TIẾP NHẬN VÀ SỐ HÓA HỒ SƠ"
	annexPeriod = "Từ ngày 16/12/2019 đến ngày 18/3/2020"
)

func TestWrite(t *testing.T) {
	rows := letterRows(t)
	var b bytes.Buffer
	if err := Write(&b, annexTitle, annexPeriod, rows); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != SheetName {
		t.Errorf("sheets %q", got)
	}
	get := func(ref string) string {
		v, err := f.GetCellValue(SheetName, ref, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	style := func(ref string) *excelize.Style {
		id, err := f.GetCellStyle(SheetName, ref)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if get("A1") != annexTitle || get("A2") != annexPeriod {
		t.Errorf("title %q, period %q", get("A1"), get("A2"))
	}
	merged, err := f.GetMergeCells(SheetName)
	if err != nil {
		t.Fatal(err)
	}
	var ranges []string
	for _, m := range merged {
		ranges = append(ranges, m.GetStartAxis()+":"+m.GetEndAxis())
	}
	if strings.Join(ranges, " ") != "A1:J1 A2:J2" {
		t.Errorf("merged %q", ranges)
	}
	if s := style("A1"); !s.Font.Bold || s.Font.Family != font || s.Alignment.Horizontal != "center" {
		t.Errorf("title style %+v %+v", s.Font, s.Alignment)
	}
	for i, h := range report.Columns(true) {
		ref, _ := excelize.CoordinatesToCellName(i+1, headerRow)
		if get(ref) != h {
			t.Errorf("%s = %q, want %q", ref, get(ref), h)
		}
		if s := style(ref); !s.Font.Bold || len(s.Border) != 4 {
			t.Errorf("%s: header not bold or without borders: %+v", ref, s)
		}
		col, _ := excelize.ColumnNumberToName(i + 1)
		if w, _ := f.GetColWidth(SheetName, col); w != colWidths[i] {
			t.Errorf("column %s width %v, want %v", col, w, colWidths[i])
		}
	}
	// Cells: numbers with the letter's decimals; the total row bold.
	checks := []struct {
		ref, value, numFmt string
		bold               bool
	}{
		{"A5", "1", "", false},
		{"B5", "Phường Hương An", "", false},
		{"C5", "271", "0_)", false},
		{"E5", "99.26", "[$-42A]0.00_)", false},
		{"E6", "62.4", "[$-42A]0.00_)", false},
		{"E8", "100", "0_)", false},
		{"J5", "3.01", "[$-42A]0.00_)", false},
		{"B20", report.TotalName, "", true},
		{"C20", "4595", "0_)", true},
		{"E20", "71.3", "[$-42A]0.0_)", true},
		{"J20", "3.4", "[$-42A]0.0_)", true},
	}
	for _, c := range checks {
		s := style(c.ref)
		got := get(c.ref)
		if got != c.value || s.Font.Bold != c.bold || len(s.Border) != 4 || c.numFmt != "" && (s.CustomNumFmt == nil || *s.CustomNumFmt != c.numFmt) {
			t.Errorf("%s = %q bold %v borders %d format %v; want %q bold %v format %q", c.ref, got, s.Font.Bold, len(s.Border),
				s.CustomNumFmt, c.value, c.bold, c.numFmt)
		}
	}
	if typ, _ := f.GetCellType(SheetName, "E5"); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("E5 is text, want a number")
	}
}

// TestInLibreOffice has LibreOffice open the annex and save it as CSV,
// as it shows it: the table must read as report.WriteCSV writes it (LibreOffice
// honours the Vietnamese number format, so rates have a decimal comma).
func TestInLibreOffice(t *testing.T) {
	soffice := testenv.OptionalTool(t, "soffice", "libreoffice-calc")
	dir := t.TempDir()
	rows := letterRows(t)
	var x bytes.Buffer
	if err := Write(&x, annexTitle, annexPeriod, rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "annex.xlsx"), x.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", dir, filepath.Join(dir, "annex.xlsx"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "annex.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lo, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(letterCSV)
	if err != nil {
		t.Fatal(err)
	}
	want, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(c, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(lo) != headerRow-1+len(want) || lo[0][0] != annexTitle || lo[1][0] != annexPeriod {
		t.Fatalf("LibreOffice's CSV:\n%s", got)
	}
	for i, w := range want {
		g := lo[headerRow-1+i]
		for j := range w {
			if strings.TrimSpace(g[j]) != w[j] {
				t.Errorf("row %d column %q: LibreOffice shows %q, WriteCSV %q", i, want[0][j], g[j], w[j])
			}
		}
	}
}
