package province

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf8"
)

// redactedMark replaces a secret in an answer.
const redactedMark = "[redacted]"

// minSecret is the length of the shortest secret looked for.
const minSecret = 4

// minTail is how many characters of a secret at the very end of an answer
// (one cut short by the read limit) are blanked as the secret.
const minTail = 4

// RedactSecrets returns b with every secret in it blanked, in every form an
// answer may carry it: as it is, URL-encoded (%XX in either case, + for a
// space), JSON-escaped (\uXXXX in either case, surrogate pairs, \" \\ \/
// and the other short escapes, also escaped again inside a JSON string),
// \xHH, and as HTML character references; the forms may mix. A secret's
// first characters at the end of b (an answer cut short) are blanked too.
// A secret of fewer than minSecret characters is not looked for: it would
// blank ordinary text (a test token "t", every t). b itself is not changed.
func RedactSecrets(b []byte, secrets ...string) []byte {
	var rs [][]rune
	for _, s := range secrets {
		if r := []rune(s); len(r) >= minSecret {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return b
	}
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		end := -1
		for _, r := range rs {
			end = max(end, matchAt(b, i, r))
		}
		if end <= i {
			i++
			continue
		}
		out = append(append(out, b[last:i]...), redactedMark...)
		i, last = end, end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// matchAt returns where the longest encoding of secret starting at b[i]
// ends, or -1; a match cut short by the end of b after at least minTail
// characters (or all but none) ends at len(b).
func matchAt(b []byte, i int, secret []rune) int {
	at := []int{i}
	for j, r := range secret {
		var next []int
		for _, p := range at {
			if p == len(b) && j >= min(minTail, len(secret)) {
				return len(b) // the answer ends inside the secret
			}
			next = append(next, encodings(b, p, r)...)
		}
		if len(next) == 0 {
			return -1
		}
		slices.Sort(next)
		at = slices.Compact(next)
	}
	return at[len(at)-1]
}

// encodings returns where each form of r found at b[p] ends.
func encodings(b []byte, p int, r rune) []int {
	var ends []int
	var u [utf8.UTFMax]byte
	raw := u[:utf8.EncodeRune(u[:], r)]
	if bytes.HasPrefix(b[p:], raw) {
		ends = append(ends, p+len(raw))
	}
	if r == ' ' && p < len(b) && b[p] == '+' {
		ends = append(ends, p+1)
	}
	if q := percent(b, p, raw); q > 0 {
		ends = append(ends, q)
	}
	ends = append(ends, jsonEscapes(b, p, r)...)
	if r <= 0xff && hasPrefixFold(b[p:], `\x`) {
		if v, ok := hexAt(b, p+2, 2); ok && v == r {
			ends = append(ends, p+4)
		}
	}
	if q := htmlRef(b, p, r); q > 0 {
		ends = append(ends, q)
	}
	return ends
}

// percent returns where raw's bytes written as %XX each end, or 0.
func percent(b []byte, p int, raw []byte) int {
	for _, c := range raw {
		if p >= len(b) || b[p] != '%' {
			return 0
		}
		if v, ok := hexAt(b, p+1, 2); !ok || v != rune(c) {
			return 0
		}
		p += 3
	}
	return p
}

// jsonEscapes returns where the JSON escapes of r at b[p] end: a run of
// backslashes (one, or more where a JSON string holds another) and the
// escape, \uXXXX or a short one.
func jsonEscapes(b []byte, p int, r rune) []int {
	k := 0
	for p+k < len(b) && b[p+k] == '\\' {
		k++
	}
	if k == 0 {
		return nil
	}
	var ends []int
	if r == '\\' {
		for _, n := range []int{2, 4, 8} { // \\, and escaped again
			if k >= n {
				ends = append(ends, p+n)
			}
		}
	}
	q := p + k
	if q < len(b) {
		if short, ok := shortEscape[r]; ok && b[q] == short {
			ends = append(ends, q+1)
		}
	}
	if q < len(b) && b[q] == 'u' {
		v, ok := hexAt(b, q+1, 4)
		switch {
		case ok && v == r:
			ends = append(ends, q+5)
		case ok && r > 0xffff && utf8.ValidRune(r):
			// A surrogate pair: \uD8xx then the same run of backslashes
			// and \uDCxx.
			hi, lo := surrogates(r)
			e := q + 5
			if v == hi && e+k < len(b) && bytes.Count(b[e:e+k], []byte{'\\'}) == k && b[e+k] == 'u' {
				if w, ok := hexAt(b, e+k+1, 4); ok && w == lo {
					ends = append(ends, e+k+5)
				}
			}
		}
	}
	return ends
}

var shortEscape = map[rune]byte{'"': '"', '\\': '\\', '/': '/', '\'': '\'', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'}

func surrogates(r rune) (hi, lo rune) {
	r -= 0x10000
	return 0xd800 + r>>10, 0xdc00 + r&0x3ff
}

// htmlRef returns where an HTML character reference to r at b[p] ends: &#N;
// &#xH; or a named one (&quot; &amp; &lt; &gt; &apos;), or 0.
func htmlRef(b []byte, p int, r rune) int {
	if p >= len(b) || b[p] != '&' {
		return 0
	}
	if name, ok := htmlNames[r]; ok && hasPrefixFold(b[p:], name) {
		return p + len(name)
	}
	if !bytes.HasPrefix(b[p:], []byte("&#")) {
		return 0
	}
	q, base := p+2, 10
	if q < len(b) && (b[q] == 'x' || b[q] == 'X') {
		q, base = q+1, 16
	}
	e := q
	for e < len(b) && e-q < 8 && isDigit(b[e], base) {
		e++
	}
	if e == q || e >= len(b) || b[e] != ';' {
		return 0
	}
	v, err := strconv.ParseInt(string(b[q:e]), base, 32)
	if err != nil || rune(v) != r {
		return 0
	}
	return e + 1
}

var htmlNames = map[rune]string{'"': "&quot;", '&': "&amp;", '<': "&lt;", '>': "&gt;", '\'': "&apos;"}

func isDigit(c byte, base int) bool {
	_, err := strconv.ParseUint(string(c), base, 8)
	return err == nil
}

// hexAt reads n hex digits (either case) at b[p].
func hexAt(b []byte, p, n int) (rune, bool) {
	if p+n > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[p:p+n]), 16, 32)
	return rune(v), err == nil
}

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && bytes.EqualFold(b[:len(s)], []byte(s))
}
