package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/sohoa/sohoa/ingest/testenv"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		q     Ratio
		total bool
		clamp bool
		want  string
	}{
		{Ratio{26900, 271}, false, true, "99,26"},
		{Ratio{15600, 250}, false, true, "62,40"},
		{Ratio{19600, 222}, false, true, "88,29"}, // 88,288… rounds up
		{Ratio{17100, 171}, false, true, "100"},
		{Ratio{0, 250}, false, true, "0"},
		{Ratio{0, 0}, false, true, "-"},
		{Ratio{999900, 10000}, false, true, "99,99"},
		{Ratio{999990, 10000}, false, true, "99,99"}, // 99,999: not everything, not "100"
		{Ratio{100, 100000}, false, true, "0,01"},    // 0,001: something, not "0"
		{Ratio{585, 90}, false, false, "6,50"},
		{Ratio{180, 90}, false, false, "2"},
		{Ratio{2999, 1000}, false, false, "3,00"},  // per day: no clamp
		{Ratio{1005, 1000}, false, false, "1,01"},  // half up, exactly
		{Ratio{328000, 4595}, true, false, "71,3"}, // 71,38…: truncated
		{Ratio{5107, 1500}, true, false, "3,4"},
		{Ratio{7100, 100}, true, false, "71"},
		{Ratio{7101, 100}, true, false, "71,0"},
	}
	for _, tt := range tests {
		if got := format(tt.q, tt.total, tt.clamp); got != tt.want {
			t.Errorf("format(%v, total %v) = %q, want %q", tt.q, tt.total, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"62,40", 6240, true}, {"100", 10000, true}, {"3,4", 340, true}, {"0", 0, true},
		{"-", 0, false}, {"", 0, false}, {"62.40", 0, false}, {"1,234", 0, false}, {",5", 0, false}, {"-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseNumber(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCompute(t *testing.T) {
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, ict) }
	march, endMarch := at(3, 1, 0), at(3, 31, 0)
	ds := []Dossier{
		// received in March, uploaded in April: counts for March once uploaded
		{Received: at(3, 30, 9), Digitized: at(4, 2, 10), Due: at(4, 3, 17), Returned: at(4, 3, 9)},
		// received the evening of 31/3 in Vietnam (still 31/3 in UTC+7, given in UTC)
		{Received: at(3, 31, 22).UTC(), Digitized: at(3, 31, 23), Due: at(4, 1, 17)},
		// received 1/4 at 01:00 in Vietnam (31/3 in UTC): April
		{Received: at(4, 1, 1).UTC(), Digitized: at(4, 1, 2), Due: at(4, 2, 17)},
		// February: not March
		{Received: at(2, 28, 9), Digitized: at(2, 28, 10), Due: at(3, 2, 17)},
		// March, not digitized, overdue
		{Received: at(3, 2, 9), Due: at(3, 5, 17)},
		// March, returned late
		{Received: at(3, 3, 9), Digitized: at(3, 3, 9), Due: at(3, 5, 17), Returned: at(3, 6, 8)},
	}
	tests := []struct {
		name      string
		asOf      time.Time
		ds        []Dossier
		received  int
		digitized int
		res       *Resolution
	}{
		{"end of March", at(3, 31, 23), ds, 4, 2,
			&Resolution{OnTime: 0, Late: 1, PendingNotDue: 2, PendingOverdue: 1, PerDay: Ratio{4, 31}}},
		{"in April", at(4, 10, 12), ds, 4, 3,
			&Resolution{OnTime: 1, Late: 1, PendingNotDue: 0, PendingOverdue: 2, PerDay: Ratio{4, 31}}},
		{"mid-March: later dossiers not yet received", at(3, 10, 12), ds, 2, 1,
			&Resolution{Late: 1, PendingOverdue: 1, PerDay: Ratio{2, 10}}},
		{"one dossier known only from a scan", at(4, 10, 12), append(ds[:len(ds):len(ds)], Dossier{Received: at(3, 20, 0), Digitized: at(3, 20, 9)}), 5, 4, nil},
		{"no dossier", at(4, 10, 12), nil, 0, 0, nil},
		{"no dossier this month, registry known", at(4, 10, 12), ds[3:4], 0, 0, &Resolution{PerDay: Ratio{0, 31}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Compute("000.00.12.H57", "Phường Hương Văn", tt.ds, march, endMarch, tt.asOf)
			if r.Received != tt.received || r.Digitized != tt.digitized || r.Ward != "000.00.12.H57" || r.Name != "Phường Hương Văn" {
				t.Errorf("got %+v, want received %d digitized %d", r, tt.received, tt.digitized)
			}
			switch {
			case (r.Resolution == nil) != (tt.res == nil):
				t.Errorf("resolution %+v, want %+v", r.Resolution, tt.res)
			case r.Resolution != nil && *r.Resolution != *tt.res:
				t.Errorf("resolution %+v, want %+v", *r.Resolution, *tt.res)
			}
		})
	}
}

func TestWriteCSVWithoutResolution(t *testing.T) {
	rows := []Row{{Name: "Phường Hương Văn", Received: 250}, {Name: "Xã Hương Phong, thôn 1", Received: 574, Digitized: 19}}
	rows = append(rows, Total(rows))
	var b bytes.Buffer
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)\r\n" +
		"1,Phường Hương Văn,250,0,0\r\n" +
		"2,\"Xã Hương Phong, thôn 1\",574,19,\"3,31\"\r\n" +
		",TỔNG SỐ,824,19,\"2,3\"\r\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	// A ward without a registry beside wards with one: empty cells, no total.
	rows = []Row{{Name: "A", Received: 1, Digitized: 1, Resolution: &Resolution{OnTime: 1, PerDay: Ratio{1, 30}}}, {Name: "B"}}
	rows = append(rows, Total(rows))
	b.Reset()
	if err := WriteCSV(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\r\n1,A,1,1,100,1,0,0,0,\"0,03\"\r\n2,B,0,0,-,,,,,\r\n,TỔNG SỐ,1,1,100,,,,,\r\n") {
		t.Errorf("got %q", b.String())
	}
}

func TestWriteTable(t *testing.T) {
	rows := []Row{{Name: "Phường Tứ Hạ", Received: 749, Digitized: 749}, {Name: "Xã Hương Phong", Received: 574, Digitized: 19}}
	rows = append(rows, Total(rows))
	var b bytes.Buffer
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"STT  Tên đơn vị      Tổng số  Đã số hóa  Tỷ lệ số hóa (%)\n" +
		"  1  Phường Tứ Hạ        749        749               100\n" +
		"  2  Xã Hương Phong      574         19              3,31\n" +
		"     TỔNG SỐ            1323        768              58,0\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestMergeErrors(t *testing.T) {
	const h = "\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)\r\n"
	const hr = "STT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%),Đã giải quyết đúng hạn,Đã giải quyết quá hạn," +
		"Đang giải quyết chưa đến hạn,Đang giải quyết quá hạn,Bình quân hồ sơ/ngày\r\n"
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"edited rate", []string{h + "1,A,250,156,\"62,41\"\r\n"}, `Tỷ lệ số hóa (%) "62,41" does not match 156/250, which prints "62,40"`},
		{"dot decimal", []string{h + "1,A,250,156,62.40\r\n"}, `does not match`},
		{"same ward twice", []string{h + "1,A,1,1,100\r\n", h + "1,a,1,1,100\r\n"}, `"a" is also in file 1`},
		{"other header", []string{"STT,Tên,Tổng số,Đã số hóa,Tỷ lệ\r\n"}, "is not the town's"},
		{"no rows", []string{h}, "no ward rows"},
		{"more digitized", []string{h + "1,A,1,2,200\r\n"}, "Đã số hóa 2 is more than Tổng số 1"},
		{"not a count", []string{h + "1,A,x,2,200\r\n"}, `Tổng số "x" is not a count`},
		{"no name", []string{h + "1,,1,1,100\r\n"}, "no Tên đơn vị"},
		{"short row", []string{h + "1,A,1\r\n"}, "line 2 has 3 columns, the header 5"},
		{"resolution sum", []string{hr + "1,A,10,10,100,5,4,0,0,\"0,11\"\r\n"}, "add up to 9, not Tổng số 10"},
		{"per day", []string{hr + "1,A,10,10,100,5,5,0,0,0.11\r\n"}, `Bình quân hồ sơ/ngày "0.11" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []io.Reader
			for _, f := range tt.files {
				rs = append(rs, strings.NewReader(f))
			}
			_, err := Merge(rs...)
			if !errors.Is(err, ErrMerge) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrMerge with %q", err, tt.want)
			}
		})
	}
}

func TestMergeFileNamesAndTotals(t *testing.T) {
	dir := t.TempDir()
	var files []io.Reader
	for i, r := range []Row{
		{Name: "Phường Hương An", Received: 271, Digitized: 269},
		{Name: "Phường Hương Chũ", Received: 250, Digitized: 156},
	} {
		path := filepath.Join(dir, fmt.Sprintf("ward%d.csv", i))
		var b bytes.Buffer
		// a ward may send its file with its own total row: it is ignored
		if err := WriteCSV(&b, []Row{r, Total([]Row{r})}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	rows, err := Merge(files...)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !rows[2].Total || rows[2].Received != 521 || rows[2].Digitized != 425 || rows[2].RateText() != "81,5" {
		t.Errorf("rows %+v", rows)
	}
	bad := strings.NewReader("\uFEFFSTT,Tên đơn vị,Tổng số,Đã số hóa,Tỷ lệ số hóa (%)\r\n1,Phường Hương An,1,1,100\r\n")
	f, err := os.Open(filepath.Join(dir, "ward0.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Merge(f, bad); err == nil || !strings.Contains(err.Error(), "also in "+filepath.Join(dir, "ward0.csv")) {
		t.Errorf("err = %v, want the file named", err)
	}
}

// letterRows are the letter's 15 wards and total as Rows.
func letterRows(t *testing.T) []Row {
	wards, _ := readLetter(t)
	var rows []Row
	for _, w := range wards {
		rows = append(rows, Row{Name: w.name, Received: w.received, Digitized: w.digitized, Resolution: &Resolution{
			OnTime: w.onTime, Late: w.late, PendingNotDue: w.pendingNotDue, PendingOverdue: w.overdue,
			PerDay: Ratio{int64(w.received), 90}}})
	}
	return append(rows, Total(rows))
}

const (
	annexTitle  = "BẢNG TỔNG HỢP TÌNH HÌNH TIẾP NHẬN VÀ SỐ HÓA HỒ SƠ"
	annexPeriod = "Từ ngày 16/12/2019 đến ngày 18/3/2020"
)

func TestWriteXLSX(t *testing.T) {
	rows := letterRows(t)
	var b bytes.Buffer
	if err := WriteXLSX(&b, annexTitle, annexPeriod, rows); err != nil {
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
	for i, h := range Columns(true) {
		ref, _ := excelize.CoordinatesToCellName(i+1, xlsxHeaderRow)
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
		{"B20", TotalName, "", true},
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

// TestXLSXInLibreOffice has LibreOffice open the annex and save it as CSV,
// as it shows it: the table must read as WriteCSV writes it (LibreOffice
// honours the Vietnamese number format, so rates have a decimal comma).
func TestXLSXInLibreOffice(t *testing.T) {
	soffice := testenv.OptionalTool(t, "soffice", "libreoffice-calc")
	dir := t.TempDir()
	rows := letterRows(t)
	var x, c bytes.Buffer
	if err := WriteXLSX(&x, annexTitle, annexPeriod, rows); err != nil {
		t.Fatal(err)
	}
	if err := WriteCSV(&c, rows); err != nil {
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
	want, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(c.Bytes(), []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(lo) != xlsxHeaderRow-1+len(want) || lo[0][0] != annexTitle || lo[1][0] != annexPeriod {
		t.Fatalf("LibreOffice's CSV:\n%s", got)
	}
	for i, w := range want {
		g := lo[xlsxHeaderRow-1+i]
		for j := range w {
			if strings.TrimSpace(g[j]) != w[j] {
				t.Errorf("row %d column %q: LibreOffice shows %q, WriteCSV %q", i, want[0][j], g[j], w[j])
			}
		}
	}
}
