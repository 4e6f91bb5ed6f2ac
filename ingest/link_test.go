package ingest

import (
	"slices"
	"testing"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/reason"
)

func TestLink(t *testing.T) {
	g, err := dossier.NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	l := &Linker{Grammar: g, Ward: "000.00.12.H57", SkipFolder: "Chờ mã hồ sơ"}
	tests := []struct {
		rel    string
		codes  []string
		reason reason.Code
	}{
		{"000.00.12.H57-200320-0001.pdf", []string{"000.00.12.H57-200320-0001"}, ""},
		{"HS 000.00.12.H57-200320-0002 to khai.pdf", []string{"000.00.12.H57-200320-0002"}, ""},
		{"000.00.12.H57-200320-0003/trang 1.pdf", []string{"000.00.12.H57-200320-0003"}, ""},
		{"2020/03/HS 000.00.12.h57-200320-0004/a/scan.pdf", []string{"000.00.12.H57-200320-0004"}, ""},
		// The file name wins over its folder.
		{"000.00.12.H57-200320-0003/000.00.12.H57-200320-0005.pdf", []string{"000.00.12.H57-200320-0005"}, ""},
		{"scan_0009.pdf", nil, reason.NoCode},
		{"Chờ mã hồ sơ/scan_0009.pdf", nil, reason.NoCode},
		{"000.00.12.H57-200320-0001 000.00.12.H57-200320-0002.pdf",
			[]string{"000.00.12.H57-200320-0001", "000.00.12.H57-200320-0002"}, reason.AmbiguousCode},
		{"000.00.13.H57-200320-0001.pdf", []string{"000.00.13.H57-200320-0001"}, reason.ForeignAgency},
		{`win\000.00.12.H57-200320-0006\x.pdf`, []string{"000.00.12.H57-200320-0006"}, ""},
	}
	for _, tt := range tests {
		codes, r, detail := l.Link(tt.rel)
		if !slices.Equal(codes, tt.codes) || r != tt.reason {
			t.Errorf("Link(%q) = %q, %q (%s); want %q, %q", tt.rel, codes, r, detail, tt.codes, tt.reason)
		}
	}
	l.AcceptForeign = true
	if _, r, _ := l.Link("000.00.13.H57-200320-0001.pdf"); r != "" {
		t.Errorf("accept_foreign: still held: %s", r)
	}
}

func FuzzLink(f *testing.F) {
	g, _ := dossier.NewGrammar("")
	l := &Linker{Grammar: g, Ward: "000.00.12.H57", SkipFolder: "Chờ mã hồ sơ"}
	f.Add("000.00.12.H57-200320-0001/x 000.00.12.H57-200320-0002.pdf")
	f.Add("Chờ mã hồ sơ/../a.pdf")
	f.Fuzz(func(t *testing.T, rel string) {
		codes, r, _ := l.Link(rel)
		if r == "" && len(codes) != 1 {
			t.Fatalf("Link(%q) linked to %d codes", rel, len(codes))
		}
		if r == reason.AmbiguousCode && len(codes) < 2 {
			t.Fatalf("Link(%q) ambiguous with %q", rel, codes)
		}
	})
}
