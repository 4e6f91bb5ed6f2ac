// Package dossier knows the grammar of dossier codes (mã hồ sơ) issued by the
// one-stop system under Decree 61/2018 and Circular 01/2018 — agency code,
// receipt date, sequence number, as in 000.00.12.H57-200320-0001 — and finds
// them in file and folder names. It also holds what the other packages say
// about one dossier without depending on each other: the registry's Record
// of it, and ICT, the time zone its dates are counted in.
package dossier

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// StrictPattern is the default grammar: a 13-character QCVN 102:2016 agency
// code, the receipt day as YYMMDD and a four-digit sequence number.
const StrictPattern = `^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9]{2}-[0-9]{6}-[0-9]{4}$`

// AgencyPattern is the grammar of an agency code alone, QCVN 102:2016's
// V1V2V3.Z1Z2.Y1Y2.MX1X2 in upper case, e.g. 000.00.12.H57: the part of a
// strict code before its date.
const AgencyPattern = `^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9]{2}$`

// ValidAgency reports whether s is an agency code exactly as codes carry it:
// upper case, no space, not a whole dossier code.
func ValidAgency(s string) bool { return regexp.MustCompile(AgencyPattern).MatchString(s) }

// Grammar recognises dossier codes. It is safe for concurrent use.
type Grammar struct {
	whole *regexp.Regexp // the configured pattern, anchored
	find  *regexp.Regexp // the same pattern, unanchored, for searching names
}

// NewGrammar compiles a code pattern. The pattern is matched against upper-case
// text, so codes are case-insensitive. An empty pattern means StrictPattern.
// The pattern should be anchored with ^ and $; for searching inside longer
// names the anchors are dropped.
func NewGrammar(pattern string) (*Grammar, error) {
	if pattern == "" {
		pattern = StrictPattern
	}
	whole, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("dossier code pattern: %w", err)
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(pattern, "^"), "$")
	find, err := regexp.Compile(inner)
	if err != nil {
		return nil, fmt.Errorf("dossier code pattern: %w", err)
	}
	if find.MatchString("") {
		return nil, fmt.Errorf("dossier code pattern %q matches the empty string", pattern)
	}
	return &Grammar{whole: whole, find: find}, nil
}

// Valid reports whether s, trimmed and upper-cased, is a whole dossier code.
func (g *Grammar) Valid(s string) bool {
	return g.whole.MatchString(Canonical(s))
}

// Canonical returns the form a code is stored and compared in: NFC,
// upper-case, without surrounding space.
func Canonical(s string) string {
	return strings.ToUpper(strings.TrimSpace(norm.NFC.String(s)))
}

// Find returns the distinct codes found in name, in order of first appearance,
// in canonical form. A code must not be glued to further letters or digits
// (so a longer run of digits is not cut into a code).
func (g *Grammar) Find(name string) []string {
	up := Canonical(name)
	var out []string
	seen := map[string]bool{}
	for _, loc := range g.find.FindAllStringIndex(up, -1) {
		if loc[0] > 0 && isAlnum(up[loc[0]-1]) || loc[1] < len(up) && isAlnum(up[loc[1]]) {
			continue
		}
		c := up[loc[0]:loc[1]]
		if !g.whole.MatchString(c) || seen[c] {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

// Agency returns the agency part of a code in the standard grammar: everything
// before the date and sequence number ("000.00.12.H57" of
// "000.00.12.H57-200320-0001"). It returns "" when code has no such part.
func Agency(code string) string {
	i := strings.LastIndexByte(code, '-')
	if i < 0 {
		return ""
	}
	j := strings.LastIndexByte(code[:i], '-')
	if j <= 0 {
		return ""
	}
	return code[:j]
}

// ICT is Vietnam's time zone (UTC+7, no daylight saving time): the zone of
// the date in a code, of every date a registry export gives, and of the days
// reports count.
func ICT() *time.Location { return time.FixedZone("ICT", 7*3600) }

// Received returns the receipt day carried in a standard code (its YYMMDD
// part), as midnight in loc. ok is false when the code has no valid date.
func Received(code string, loc *time.Location) (t time.Time, ok bool) {
	i := strings.LastIndexByte(code, '-')
	if i < 0 {
		return time.Time{}, false
	}
	j := strings.LastIndexByte(code[:i], '-')
	if j < 0 || i-j-1 != 6 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("060102", code[j+1:i], loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
