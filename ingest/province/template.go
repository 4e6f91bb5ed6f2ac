package province

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Template is a text with {name} placeholders, as written in the
// configuration: "https://dvc.example.gov.vn/api/dossiers/{dossier}/files".
// A brace that does not open a {name} of lower-case letters, digits and
// underscores is literal text, so a JSON template needs no escaping:
// {"maHoSo": "{dossier}"}. The zero Template renders as "".
type Template struct {
	parts []part
}

type part struct {
	lit  string
	name string // a placeholder when not ""
}

// ParseTemplate parses s, accepting only the placeholders in names.
func ParseTemplate(s string, names []string) (Template, error) {
	var t Template
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(s) && isNameByte(s[j], j == i+1) {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] != '}' {
			continue // a literal brace
		}
		name := s[i+1 : j]
		if !slices.Contains(names, name) {
			return Template{}, fmt.Errorf("unknown placeholder {%s} in %q (known: {%s})", name, s, strings.Join(names, "}, {"))
		}
		if lit < i {
			t.parts = append(t.parts, part{lit: s[lit:i]})
		}
		t.parts = append(t.parts, part{name: name})
		lit = j + 1
		i = j
	}
	if lit < len(s) {
		t.parts = append(t.parts, part{lit: s[lit:]})
	}
	return t, nil
}

// IsName reports whether s is a placeholder name: lower-case letters,
// digits and underscores, not starting with a digit.
func IsName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || !first && '0' <= c && c <= '9'
}

// Names returns the placeholders t uses, in order, with repeats.
func (t Template) Names() []string {
	var names []string
	for _, p := range t.parts {
		if p.name != "" {
			names = append(names, p.name)
		}
	}
	return names
}

// Render substitutes vars, each passed through escape (nil: as is). A name
// missing from vars renders as "".
func (t Template) Render(vars map[string]string, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		v := vars[p.name]
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// RenderURL substitutes vars into a URL template: values are path-escaped
// before the first literal "?" and query-escaped after it, so a file name
// with spaces or Vietnamese letters cannot change the URL's structure.
func (t Template) RenderURL(vars map[string]string) string {
	var b strings.Builder
	query := false
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			query = query || strings.Contains(p.lit, "?")
			continue
		}
		if query {
			b.WriteString(url.QueryEscape(vars[p.name]))
		} else {
			b.WriteString(url.PathEscape(vars[p.name]))
		}
	}
	return b.String()
}

// JSONEscape escapes s for use inside a JSON string literal (without the quotes).
func JSONEscape(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// HeaderValue removes what a header value cannot carry (CR, LF and other
// control characters), so a file name cannot add headers.
func HeaderValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// ValidHeaderName reports whether s is an HTTP header name (a token).
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// JSONPath selects one value in a JSON document: "data.id", "data[0].id",
// "$.files.0.fileId". Names are object keys; a number selects an array
// element.
type JSONPath []string

// ParseJSONPath parses a path as above.
func ParseJSONPath(s string) (JSONPath, error) {
	orig := s
	s = strings.NewReplacer("[", ".", "]", "").Replace(strings.TrimPrefix(s, "$"))
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("empty JSON path %q", orig)
	}
	p := JSONPath(strings.Split(s, "."))
	for _, seg := range p {
		if seg == "" {
			return nil, fmt.Errorf("JSON path %q has an empty step", orig)
		}
	}
	return p, nil
}

func (p JSONPath) String() string { return strings.Join(p, ".") }

// errNoValue means a JSON document lacks the value a path selects.
var errNoValue = errors.New("no such value")

// Find returns the value at p in v, a document decoded by encoding/json
// (objects as map[string]any, arrays as []any); ok is false when there is
// none.
func (p JSONPath) Find(v any) (found any, ok bool) {
	for _, seg := range p {
		switch x := v.(type) {
		case map[string]any:
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Lookup returns the string, number or boolean at p in doc, as text.
func (p JSONPath) Lookup(doc []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("response is not JSON: %w", err)
	}
	v, ok := p.Find(v)
	if !ok {
		return "", fmt.Errorf("%s: %w", p, errNoValue)
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return "", fmt.Errorf("%s is empty: %w", p, errNoValue)
		}
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%s is not a string or a number: %w", p, errNoValue)
}
