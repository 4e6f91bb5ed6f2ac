package registry

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// FuzzParse feeds arbitrary files to Parse, seeded with the test files: it
// must not panic, and what it returns must keep its promises.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil && filepath.Ext(name) != ".xlsx" {
			f.Add(b)
		}
	}
	f.Add([]byte("Mã hồ sơ;Ngày tiếp nhận;Hạn xử lý\n000.00.12.H57-200316-0001;16/03/2020;\"17/03/2020\n"))
	g, err := dossier.NewGrammar("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, problems, err := Parse(bytes.NewReader(data), "fuzz.csv", g, ward)
		if err != nil {
			if len(rows) > 0 || len(problems) > 0 {
				t.Fatalf("error %v with %d rows and %d problems", err, len(rows), len(problems))
			}
			return
		}
		seen := map[string]bool{}
		last := 0
		for _, r := range rows {
			if !g.Valid(r.Code) || dossier.Agency(r.Code) != ward || r.Code != dossier.Canonical(r.Code) {
				t.Fatalf("row with code %q", r.Code)
			}
			if seen[r.Code] {
				t.Fatalf("code %s returned twice", r.Code)
			}
			seen[r.Code] = true
			if r.Received.IsZero() || r.Received.Location().String() != "ICT" {
				t.Fatalf("row %+v: received %v", r, r.Received)
			}
			if r.Line <= last {
				t.Fatalf("row lines out of order: %d after %d", r.Line, last)
			}
			last = r.Line
		}
		for _, p := range problems {
			if p.Line <= 0 || p.Reason == "" {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}

// FuzzParseDate: any cell, no panic; a date is in ICT and in 2000–2099.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"16/12/2019", "16/12/2019 08:30", "2019-12-16T01:30:00Z", "43815.5", "1e308", "99999999999"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, serial bool) {
		d, err := parseDate(s, serial, false)
		if err != nil {
			return
		}
		if d.Location().String() != "ICT" || d.Year() < 2000 || d.Year() > 2099 {
			t.Fatalf("parseDate(%q) = %v", s, d)
		}
	})
}
