package dossier

import (
	"slices"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	g, err := NewGrammar("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		{"000.00.12.H57-200320-0001.pdf", []string{"000.00.12.H57-200320-0001"}},
		{"HS 000.00.12.H57-200320-0002 to khai.pdf", []string{"000.00.12.H57-200320-0002"}},
		{"hs_000.00.12.h57-200320-0003.PDF", []string{"000.00.12.H57-200320-0003"}},
		{"scan_0003.pdf", nil},
		{"000.00.12.H57-200320-0001 và 000.00.12.H57-200320-0002.pdf",
			[]string{"000.00.12.H57-200320-0001", "000.00.12.H57-200320-0002"}},
		{"000.00.12.H57-200320-0001 (2) 000.00.12.H57-200320-0001.pdf", []string{"000.00.12.H57-200320-0001"}},
		// glued to more digits: not a code, never a guess
		{"000.00.12.H57-200320-00011.pdf", nil},
		{"X000.00.12.H57-200320-0001.pdf", nil},
		// date part too short
		{"000.00.12.H57-20032-0001.pdf", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := g.Find(tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCustomPattern(t *testing.T) {
	// A province whose system emits a non-conforming local code.
	g, err := NewGrammar(`^H57\.[0-9]{2}-[0-9]{6}-[0-9]{5}$`)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Find("hoso h57.12-200320-00001.pdf"); !slices.Equal(got, []string{"H57.12-200320-00001"}) {
		t.Errorf("custom pattern: got %q", got)
	}
	if g.Valid("000.00.12.H57-200320-0001") {
		t.Error("custom pattern accepted a strict code it does not describe")
	}
	for _, bad := range []string{"(", ".*", "^$"} {
		if _, err := NewGrammar(bad); err == nil {
			t.Errorf("NewGrammar(%q): no error", bad)
		}
	}
}

func TestAgencyAndReceived(t *testing.T) {
	loc := ICT()
	if a := Agency("000.00.12.H57-200320-0001"); a != "000.00.12.H57" {
		t.Errorf("Agency = %q", a)
	}
	if a := Agency("nothing"); a != "" {
		t.Errorf("Agency(nothing) = %q", a)
	}
	d, ok := Received("000.00.12.H57-200320-0001", loc)
	if !ok || !d.Equal(time.Date(2020, 3, 20, 0, 0, 0, 0, loc)) {
		t.Errorf("Received = %v %v", d, ok)
	}
	if _, ok := Received("000.00.12.H57-201340-0001", loc); ok {
		t.Error("month 13 accepted")
	}
}

func TestValidAgency(t *testing.T) {
	for s, want := range map[string]bool{
		"000.00.12.H57": true, "G22.38.01.H57": true,
		"000.00.12.h57": false, "H57.12.000": false, "000.00.12.H57-200320-0001": false,
		" 000.00.12.H57": false, "000.00.12": false, "": false, "000.00.12.H577": false,
	} {
		if got := ValidAgency(s); got != want {
			t.Errorf("ValidAgency(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNFD(t *testing.T) {
	g, _ := NewGrammar("")
	// "Hồ sơ" in NFD (decomposed), as macOS clients send it.
	nfd := "Ho\u0302\u0300 so\u031b 000.00.12.H57-200320-0001.pdf"
	if got := g.Find(nfd); !slices.Equal(got, []string{"000.00.12.H57-200320-0001"}) {
		t.Errorf("NFD name: got %q", got)
	}
}

func FuzzFind(f *testing.F) {
	for _, s := range []string{"000.00.12.H57-200320-0001.pdf", "HS 000.00.12.h57-200320-0002 to khai.pdf",
		"a000.00.12.H57-200320-0001", "Ho\u0302\u0300 so\u031b", "\xff\xfe"} {
		f.Add(s)
	}
	g, _ := NewGrammar("")
	ok := func(c string) bool { _, ok := Received(c, time.UTC); return ok }
	f.Fuzz(func(t *testing.T, name string) {
		for _, c := range g.Find(name) {
			if !g.Valid(c) {
				t.Fatalf("Find(%q) returned %q, which is not Valid", name, c)
			}
			if len(c) != 25 {
				t.Fatalf("strict code %q is not 25 characters", c)
			}
			// YYMMDD sits at 14-19: a month 01-12 and a day 01-28 are
			// a date in every month of every year.
			if mm, dd := c[16:18], c[18:20]; !ok(c) && mm >= "01" && mm <= "12" && dd >= "01" && dd <= "28" {
				t.Fatalf("Received(%q) failed on a plausible date", c)
			}
		}
	})
}
