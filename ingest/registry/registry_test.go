package registry

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/sohoa/sohoa/ingest/dossier"
)

var update = flag.Bool("update", false, "rewrite testdata/excelize.xlsx")

const ward = "000.00.12.H57"

func grammar(t testing.TB) *dossier.Grammar {
	t.Helper()
	g, err := dossier.NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ict(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, dossier.ICT())
}

func parseFile(t *testing.T, name string) ([]dossier.Record, []Problem, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(f, name, grammar(t), ward)
}

// fourRows is the content of bom.csv, utf16.txt, libreoffice.xlsx and
// excelize.xlsx: the same four dossiers, exported four ways.
func fourRows(first int) []dossier.Record {
	return []dossier.Record{
		{Line: first, Code: ward + "-200316-0001", Received: ict(2020, 3, 16, 8, 12, 0), Due: ict(2020, 3, 18, 17, 0, 0),
			Returned: ict(2020, 3, 17, 10, 5, 0), Procedure: "Chứng thực bản sao từ bản chính", Status: "Đã trả kết quả"},
		{Line: first + 1, Code: ward + "-200316-0002", Received: ict(2020, 3, 16, 9, 40, 0), Due: ict(2020, 3, 16, 17, 0, 0),
			Returned: ict(2020, 3, 16, 15, 30, 0), Procedure: "Đăng ký khai sinh", Status: "Đã trả kết quả"},
		{Line: first + 2, Code: ward + "-200317-0001", Received: ict(2020, 3, 17, 14, 3, 0), Due: ict(2020, 3, 20, 17, 0, 0),
			Procedure: `Cấp bản sao trích lục hộ tịch, "bản sao" có chứng thực`, Status: "Đang xử lý"},
		{Line: first + 3, Code: ward + "-200318-0001", Received: ict(2020, 3, 18, 7, 55, 0), Due: ict(2020, 3, 23, 17, 0, 0),
			Returned: ict(2020, 3, 25, 9, 0, 0), Procedure: "Đăng ký kết hôn", Status: "Đã trả kết quả"},
	}
}

func TestParseGoodFiles(t *testing.T) {
	noQuotes := fourRows(2)
	noQuotes[2].Procedure = strings.ReplaceAll(noQuotes[2].Procedure, `"`, "")
	tests := []struct {
		file string
		want []dossier.Record
	}{
		// UTF-8 with BOM, CRLF, three title lines before the header.
		{"bom.csv", fourRows(5)},
		// Converted from a CSV by LibreOffice Calc 7.4 (vi-VN): dates are date cells.
		{"libreoffice.xlsx", fourRows(2)},
		// Written by excelize: a notes sheet first, title rows, date cells and a text date.
		{"excelize.xlsx", fourRows(4)},
		// Excel's "Unicode Text": UTF-16LE with BOM, tab-separated.
		{"utf16.txt", noQuotes},
		// No BOM, LF, headers without diacritics in odd case, ISO 8601 and RFC 3339 dates.
		{"nobom.csv", []dossier.Record{
			{Line: 2, Code: ward + "-200316-0001", Received: ict(2020, 3, 16, 8, 12, 0), Due: ict(2020, 3, 18, 0, 0, 0),
				Returned: ict(2020, 3, 17, 0, 0, 0)},
			{Line: 3, Code: ward + "-200316-0002", Received: ict(2020, 3, 16, 9, 40, 0), Due: ict(2020, 3, 16, 17, 0, 0),
				Returned: ict(2020, 3, 16, 15, 30, 0)},
			{Line: 4, Code: ward + "-200317-0001", Received: ict(2020, 3, 17, 0, 0, 0), Due: ict(2020, 3, 20, 0, 0, 0)},
		}},
		// Semicolons, English headers, a quoted field holding a semicolon, d/m/yyyy.
		{"semicolon.csv", []dossier.Record{
			{Line: 2, Code: ward + "-200316-0001", Received: ict(2020, 3, 16, 0, 0, 0), Due: ict(2020, 3, 18, 0, 0, 0),
				Returned: ict(2020, 3, 17, 0, 0, 0), Procedure: "Certification; copy from original", Status: "Returned"},
			{Line: 3, Code: ward + "-200317-0001", Received: ict(2020, 3, 17, 14, 3, 10), Due: ict(2020, 3, 20, 0, 0, 0),
				Procedure: "Birth registration", Status: "In progress"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rows, problems, err := parseFile(t, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d: %+v", len(rows), len(tt.want), rows)
			}
			for i := range rows {
				if !equalRow(rows[i], tt.want[i]) {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], tt.want[i])
				}
				if rows[i].Received.Location().String() != "ICT" {
					t.Errorf("row %d: received in %v, want ICT", i, rows[i].Received.Location())
				}
			}
		})
	}
}

func equalRow(a, b dossier.Record) bool {
	return a.Line == b.Line && a.Code == b.Code && a.Received.Equal(b.Received) && a.Due.Equal(b.Due) &&
		a.Returned.Equal(b.Returned) && a.Procedure == b.Procedure && a.Status == b.Status
}

func TestParseBadRows(t *testing.T) {
	rows, problems, err := parseFile(t, "bad.csv")
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, r := range rows {
		codes = append(codes, r.Code)
	}
	if want := []string{ward + "-200316-0001", ward + "-200316-0007"}; !slices.Equal(codes, want) {
		t.Errorf("good rows %q, want %q", codes, want)
	}
	want := []struct {
		line    int
		reason  string
		foreign bool
	}{
		{3, "missing Mã hồ sơ", false},
		{4, `Mã hồ sơ "HS-2020-0001" is not a dossier code`, false},
		{5, "belongs to agency 000.00.13.H57, not to this ward (000.00.12.H57)", true},
		{6, "missing Ngày tiếp nhận", false},
		{7, `Ngày tiếp nhận "3/20/2020": not a date`, false},
		{8, `Hạn xử lý "abc": not a date`, false},
		{9, "Ngày trả kết quả 15/03/2020 is before Ngày tiếp nhận 16/03/2020", false},
		{12, "appears on lines 12, 13 with different data", false},
		{13, "appears on lines 12, 13 with different data", false},
		{14, "year 1900 is out of range", false},
		{15, "belongs to agency 000.00.13.H57", false}, // also a bad date: not merely foreign
	}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(problems), len(want), problems)
	}
	for i, w := range want {
		p := problems[i]
		if p.Line != w.line || !strings.Contains(p.Reason, w.reason) || p.Foreign != w.foreign {
			t.Errorf("problem %d = %+v, want line %d, reason containing %q, foreign %v", i, p, w.line, w.reason, w.foreign)
		}
	}
	if s := problems[0].String(); s != "line 3: missing Mã hồ sơ" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseRefusedFiles(t *testing.T) {
	tests := []struct {
		file    string
		want    error
		message string
	}{
		{"mangled-cp1252.csv", ErrMangled, `"MÃ£ há»“ sÆ¡" is "Mã hồ sơ" read as Windows-1252`},
		{"windows1258.csv", ErrNotUTF8, "not UTF-8: save as CSV UTF-8 (line 1 has byte 0xDE"},
		{"qmarks.csv", ErrMangled, `"M? h? s?" is "Mã hồ sơ" with its Vietnamese letters replaced by '?'`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, _, err := parseFile(t, tt.file)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.HasPrefix(err.Error(), tt.file+": ") {
				t.Errorf("message %q does not name the file or lacks %q", err, tt.message)
			}
		})
	}
}

func TestParseRefusedContent(t *testing.T) {
	tests := []struct {
		name, content string
		want          error
	}{
		{"no header", "a,b,c\n1,2,3\n", ErrNoHeader},
		{"only the code column", "Mã hồ sơ\n000.00.12.H57-200316-0001\n", ErrNoHeader},
		{"old xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest", ErrFormat},
		{"html as xls", "\xEF\xBB\xBF  <html><table><tr><td>Mã hồ sơ</td></tr></table></html>", ErrFormat},
		{"broken zip", "PK\x03\x04 not really", ErrFormat},
		{"mangled data row", "Ma ho so,Ngay tiep nhan,Thu tuc\n000.00.12.H57-200316-0001,16/03/2020,Chá»©ng thá»±c\n", ErrMangled},
		{"latin-1 byte", "Ma ho so,Ngay tiep nhan,Thu tuc\n000.00.12.H57-200316-0001,16/03/2020,Ch\xF4\n", ErrNotUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.content), "x.csv", grammar(t), ward)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseNoWard(t *testing.T) {
	// Without a ward every agency's codes are accepted.
	in := "Dossier code,Received date\n000.00.13.H57-200316-0001,16/03/2020\n"
	rows, problems, err := Parse(strings.NewReader(in), "x.csv", grammar(t), "")
	if err != nil || len(problems) > 0 || len(rows) != 1 {
		t.Errorf("rows %v problems %v err %v", rows, problems, err)
	}
}

func TestParseDuplicateHeader(t *testing.T) {
	in := "Mã hồ sơ,Ngày tiếp nhận,Ma ho so\n"
	if _, _, err := Parse(strings.NewReader(in), "x.csv", grammar(t), ward); err == nil || !strings.Contains(err.Error(), "two columns") {
		t.Errorf("err = %v, want two columns", err)
	}
	// Two names for the due date: the date promised to the citizen wins.
	in = "Mã hồ sơ,Ngày tiếp nhận,Hạn xử lý,Hạn trả kết quả\n000.00.12.H57-200316-0001,16/03/2020,17/03/2020,18/03/2020\n"
	rows, _, err := Parse(strings.NewReader(in), "x.csv", grammar(t), ward)
	if err != nil || len(rows) != 1 || !rows[0].Due.Equal(ict(2020, 3, 18, 0, 0, 0)) {
		t.Errorf("rows %v err %v", rows, err)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Mã hồ sơ", "ma ho so"},
		{"  MÃ  HỒ   SƠ (*) ", "ma ho so"},
		{"Ngày tiếp nhận", "ngay tiep nhan"},
		{"Đã số hóa", "da so hoa"},
		{"Ho\u0302\u0300 so\u031b", "ho so"}, // NFD input
		{"Received_Date", "received date"},
		{"\uFEFFSTT", "stt"},
	}
	for _, tt := range tests {
		if got := normalize(tt.in); got != tt.want {
			t.Errorf("normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMojibake(t *testing.T) {
	tests := []struct {
		in, fixed string
		bad       bool
	}{
		{"MÃ£ há»“ sÆ¡", "Mã hồ sơ", true},
		{"Ä\u0090Ã£ tráº£ káº¿t quáº£", "Đã trả kết quả", true},
		{"MĂ£ há»“ sÆ¡", "Mã hồ sơ", true}, // read as Windows-1258
		{"Mã hồ sơ", "", false},
		{"NGÃ BA – Hóa", "", false},
		{"Certification; copy", "", false},
		{"Thủ tục “đặc biệt”", "", false},
	}
	for _, tt := range tests {
		fixed, bad := mojibake(tt.in)
		if bad != tt.bad || fixed != tt.fixed {
			t.Errorf("mojibake(%q) = %q, %v; want %q, %v", tt.in, fixed, bad, tt.fixed, tt.bad)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in     string
		serial bool
		want   time.Time
		bad    bool
	}{
		{"16/12/2019", false, ict(2019, 12, 16, 0, 0, 0), false},
		{"6/1/2020", false, ict(2020, 1, 6, 0, 0, 0), false},
		{"16/12/2019 08:30", false, ict(2019, 12, 16, 8, 30, 0), false},
		{" 16/12/2019   8:30:15 ", false, ict(2019, 12, 16, 8, 30, 15), false},
		{"08:30 16/12/2019", false, ict(2019, 12, 16, 8, 30, 0), false},
		{"16/12/2019 2:05 CH", false, ict(2019, 12, 16, 14, 5, 0), false},
		{"16/12/2019 8:30:01 SA", false, ict(2019, 12, 16, 8, 30, 1), false},
		{"16/12/2019 2:05 PM", false, ict(2019, 12, 16, 14, 5, 0), false},
		{"16-12-2019", false, ict(2019, 12, 16, 0, 0, 0), false},
		{"2019-12-16", false, ict(2019, 12, 16, 0, 0, 0), false},
		{"2019-12-16 08:30:00", false, ict(2019, 12, 16, 8, 30, 0), false},
		{"2019-12-16T08:30:00", false, ict(2019, 12, 16, 8, 30, 0), false},
		{"2019-12-16T01:30:00Z", false, ict(2019, 12, 16, 8, 30, 0), false},
		{"2019-12-16T08:30:00.5+07:00", false, ict(2019, 12, 16, 8, 30, 0).Add(500 * time.Millisecond), false},
		{"43815", true, ict(2019, 12, 16, 0, 0, 0), false},
		{"43815.354166666664", true, ict(2019, 12, 16, 8, 30, 0), false},
		{"43815", false, time.Time{}, true}, // a number in a CSV is not a date
		{"12/16/2019", false, time.Time{}, true},
		{"32/01/2020", false, time.Time{}, true},
		{"29/02/2019", false, time.Time{}, true},
		{"16/12/19", false, time.Time{}, true},
		{"16/12/1999", false, time.Time{}, true},
		{"hôm nay", false, time.Time{}, true},
		{"1", true, time.Time{}, true}, // 1900: out of range
	}
	for _, tt := range tests {
		got, err := parseDate(tt.in, tt.serial, false)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("parseDate(%q, %v) = %v, %v; want %v (error %v)", tt.in, tt.serial, got, err, tt.want, tt.bad)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	r := ioRepeat('a', MaxBytes+1)
	if _, _, err := Parse(r, "big.csv", grammar(t), ward); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

// ioRepeat is a reader of n copies of b.
func ioRepeat(b byte, n int) *bytes.Reader {
	return bytes.NewReader(bytes.Repeat([]byte{b}, n))
}

// TestExcelizeFixture writes testdata/excelize.xlsx with -update, and checks
// that the committed file is what this code writes (cell by cell).
func TestExcelizeFixture(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "Ghi chú"))
	must(f.SetCellStr("Ghi chú", "A1", "Xuất từ hệ thống một cửa điện tử"))
	_, err := f.NewSheet("Danh sách")
	must(err)
	const s = "Danh sách"
	must(f.SetCellStr(s, "A1", "DANH SÁCH HỒ SƠ TIẾP NHẬN"))
	must(f.MergeCell(s, "A1", "G1"))
	must(f.SetSheetRow(s, "A3", &[]any{"STT", "Mã hồ sơ", "Thủ tục", "Ngày tiếp nhận", "Hạn xử lý", "Ngày trả kết quả", "Trạng thái"}))
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("dd/mm/yyyy hh:mm")})
	must(err)
	for i, r := range fourRows(4) {
		row := r.Line
		cell := func(col string) string { return col + strconv.Itoa(row) }
		must(f.SetCellInt(s, cell("A"), int64(i+1)))
		must(f.SetCellStr(s, cell("B"), strings.ToLower(r.Code[:4])+r.Code[4:])) // any case
		must(f.SetCellStr(s, cell("C"), r.Procedure))
		for col, d := range map[string]time.Time{"D": r.Received, "E": r.Due, "F": r.Returned} {
			if d.IsZero() {
				continue
			}
			wall := time.Date(d.Year(), d.Month(), d.Day(), d.Hour(), d.Minute(), d.Second(), 0, time.UTC)
			must(f.SetCellValue(s, cell(col), wall))
			must(f.SetCellStyle(s, cell(col), cell(col), dateStyle))
		}
		must(f.SetCellStr(s, cell("G"), r.Status))
	}
	must(f.SetCellStr(s, "E6", "20/03/2020 17:00")) // a date typed as text
	path := filepath.Join("testdata", "excelize.xlsx")
	if *update {
		must(f.SaveAs(path))
	}
	old, err := excelize.OpenFile(path)
	must(err)
	defer old.Close()
	for _, sh := range []string{"Ghi chú", s} {
		want, err := f.GetRows(sh)
		must(err)
		got, err := old.GetRows(sh)
		must(err)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: sheet %q differs from what this test writes; run go test -run TestExcelizeFixture -update", path, sh)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestCheck: a dossier from another source than a file is judged by the
// same rules, and its reasons name the source's own labels.
func TestCheck(t *testing.T) {
	g := grammar(t)
	names := Fields{Code: "content.code", Received: "content.acceptedDate", Returned: "content.completedDate"}
	tests := []struct {
		name    string
		f       Fields
		want    dossier.Record
		reason  string
		foreign bool
	}{
		{"good", Fields{Code: " 000.00.12.h57-200316-0001 ", Received: "2020-03-16T08:15:00+07:00", Due: "19/03/2020",
			Procedure: "Chứng thực bản sao", Status: "Đã trả kết quả"},
			dossier.Record{Line: 7, Code: "000.00.12.H57-200316-0001", Received: ict(2020, 3, 16, 8, 15, 0), Due: ict(2020, 3, 19, 0, 0, 0),
				Procedure: "Chứng thực bản sao", Status: "Đã trả kết quả"}, "", false},
		{"no code", Fields{Received: "16/03/2020"}, dossier.Record{}, "missing content.code", false},
		{"no received", Fields{Code: "000.00.12.H57-200316-0001"}, dossier.Record{}, "missing content.acceptedDate", false},
		{"foreign", Fields{Code: "000.00.13.H57-200316-0001", Received: "16/03/2020"}, dossier.Record{},
			"dossier code 000.00.13.H57-200316-0001 belongs to agency 000.00.13.H57, not to this ward (000.00.12.H57)", true},
		{"returned first", Fields{Code: "000.00.12.H57-200316-0001", Received: "16/03/2020", Returned: "15/03/2020"}, dossier.Record{},
			"content.completedDate 15/03/2020 is before content.acceptedDate 16/03/2020", false},
		{"bad date, default title", Fields{Code: "000.00.12.H57-200316-0001", Received: "16/03/2020", Due: "soon"}, dossier.Record{},
			`Hạn xử lý "soon": ` + errDate.Error(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, p, ok := Check(7, tt.f, names, g, ward)
			if ok != (tt.reason == "") {
				t.Fatalf("ok = %v, problem %+v", ok, p)
			}
			if ok && !equalRow(row, tt.want) {
				t.Errorf("row = %+v, want %+v", row, tt.want)
			}
			if !ok && (p.Reason != tt.reason || p.Foreign != tt.foreign || p.Line != 7) {
				t.Errorf("problem = %+v, want reason %q foreign %v", p, tt.reason, tt.foreign)
			}
		})
	}
}
