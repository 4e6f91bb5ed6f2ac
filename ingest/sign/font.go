package sign

import (
	"bytes"
	_ "embed" // the stamp's font
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// dejaVuSans is DejaVu Sans (Debian's fonts-dejavu-core) cut down to the
// Latin and Vietnamese letters by Subset, glyph numbers kept: see
// font_test.go, which makes it again from the Debian file and compares.
// Its licence (the Bitstream Vera licence, DejaVu's changes in the public
// domain) allows embedding and redistribution: LICENSE-DejaVu beside it.
//
//go:embed DejaVuSans-vi.ttf
var dejaVuSans []byte

// Vietnamese lists the characters the embedded font keeps: ASCII, Latin-1,
// the Vietnamese letters of Latin Extended-A and -B, the combining marks
// Vietnamese uses and the Latin Extended Additional block's Vietnamese.
func Vietnamese() []rune {
	var rs []rune
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			rs = append(rs, r)
		}
	}
	add(0x20, 0x7e)
	add(0xa0, 0xff)
	rs = append(rs, 0x102, 0x103, 0x110, 0x111, 0x128, 0x129, 0x168, 0x169, 0x1a0, 0x1a1, 0x1af, 0x1b0)
	add(0x300, 0x303)
	rs = append(rs, 0x309, 0x323)
	add(0x1ea0, 0x1ef9)
	rs = append(rs, 0x2013, 0x2014, 0x2018, 0x2019, 0x201c, 0x201d, 0x2026)
	return rs
}

// stampFont is the font of the stamp: glyph numbers and advances of runes.
type stampFont struct {
	file *sfnt.Font
	data []byte
	buf  sfnt.Buffer
	upem float64
}

func newStampFont() (*stampFont, error) {
	f, err := sfnt.Parse(dejaVuSans)
	if err != nil {
		return nil, fmt.Errorf("embedded font: %w", err)
	}
	return &stampFont{file: f, data: dejaVuSans, upem: float64(f.UnitsPerEm())}, nil
}

// glyph returns the glyph number of r (0, the missing glyph, when the font
// lacks it) and its advance in thousandths of the font size.
func (f *stampFont) glyph(r rune) (uint16, float64, error) {
	g, err := f.file.GlyphIndex(&f.buf, r)
	if err != nil {
		return 0, 0, err
	}
	adv, err := f.file.GlyphAdvance(&f.buf, g, fixed.Int26_6(f.upem*64), font.HintingNone)
	if err != nil {
		return 0, 0, err
	}
	return uint16(g), float64(adv) / 64 / f.upem * 1000, nil
}

// Subset returns the TrueType font ttf with only the glyphs of the given
// glyph numbers (and the glyphs they are composed of, and the missing
// glyph) left in its glyf table; the others become empty, so glyph numbers
// stay as they were, and post loses its glyph names. Only the tables named in keep are written (glyf, loca
// and head are always). The result is the same for the same input.
func Subset(ttf []byte, glyphs []uint16, keep []string) ([]byte, error) {
	tables, err := readTables(ttf)
	if err != nil {
		return nil, err
	}
	head, maxp, loca, glyf := tables["head"], tables["maxp"], tables["loca"], tables["glyf"]
	if len(head) < 54 || len(maxp) < 6 || loca == nil || glyf == nil {
		return nil, errors.New("not a TrueType font with glyf outlines")
	}
	n := int(binary.BigEndian.Uint16(maxp[4:]))
	long := binary.BigEndian.Uint16(head[50:]) == 1
	offset := func(i int) (int, error) {
		if long {
			if 4*i+4 > len(loca) {
				return 0, errors.New("loca too short")
			}
			return int(binary.BigEndian.Uint32(loca[4*i:])), nil
		}
		if 2*i+2 > len(loca) {
			return 0, errors.New("loca too short")
		}
		return 2 * int(binary.BigEndian.Uint16(loca[2*i:])), nil
	}
	glyph := func(g int) ([]byte, error) {
		a, err := offset(g)
		if err != nil {
			return nil, err
		}
		b, err := offset(g + 1)
		if err != nil {
			return nil, err
		}
		if a > b || b > len(glyf) {
			return nil, fmt.Errorf("glyph %d: bad offsets", g)
		}
		return glyf[a:b], nil
	}

	used := map[int]bool{0: true}
	todo := []int{0}
	for _, g := range glyphs {
		todo = append(todo, int(g))
	}
	for len(todo) > 0 {
		g := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if g >= n {
			continue
		}
		used[g] = true
		data, err := glyph(g)
		if err != nil {
			return nil, err
		}
		for _, c := range components(data) {
			if !used[c] {
				used[c] = true
				todo = append(todo, c)
			}
		}
	}

	var newGlyf bytes.Buffer
	newLoca := make([]byte, 4*(n+1))
	for g := range n {
		binary.BigEndian.PutUint32(newLoca[4*g:], uint32(newGlyf.Len()))
		if used[g] {
			data, err := glyph(g)
			if err != nil {
				return nil, err
			}
			newGlyf.Write(data)
			for newGlyf.Len()%4 != 0 {
				newGlyf.WriteByte(0)
			}
		}
	}
	binary.BigEndian.PutUint32(newLoca[4*n:], uint32(newGlyf.Len()))

	newHead := slices.Clone(head)
	binary.BigEndian.PutUint16(newHead[50:], 1) // long loca
	binary.BigEndian.PutUint32(newHead[8:], 0)  // checksum adjustment, set below
	out := map[string][]byte{"head": newHead, "loca": newLoca, "glyf": newGlyf.Bytes()}
	for _, t := range keep {
		if _, done := out[t]; !done && tables[t] != nil {
			out[t] = tables[t]
		}
	}
	if post := out["post"]; len(post) >= 32 {
		// Version 3: no glyph names (the bulk of the table), which neither
		// a PDF reader nor sfnt needs.
		post = slices.Clone(post[:32])
		binary.BigEndian.PutUint32(post, 0x00030000)
		out["post"] = post
	}
	return writeTables(out), nil
}

// components returns the glyph numbers a composite glyph is made of.
func components(g []byte) []int {
	if len(g) < 10 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil
	}
	var cs []int
	for p := 10; p+4 <= len(g); {
		flags := binary.BigEndian.Uint16(g[p:])
		cs = append(cs, int(binary.BigEndian.Uint16(g[p+2:])))
		p += 4
		if flags&0x0001 != 0 { // ARG_1_AND_2_ARE_WORDS
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&0x0008 != 0: // WE_HAVE_A_SCALE
			p += 2
		case flags&0x0040 != 0: // WE_HAVE_AN_X_AND_Y_SCALE
			p += 4
		case flags&0x0080 != 0: // WE_HAVE_A_TWO_BY_TWO
			p += 8
		}
		if flags&0x0020 == 0 { // MORE_COMPONENTS
			break
		}
	}
	return cs
}

func readTables(ttf []byte) (map[string][]byte, error) {
	if len(ttf) < 12 {
		return nil, errors.New("font too short")
	}
	num := int(binary.BigEndian.Uint16(ttf[4:]))
	if len(ttf) < 12+16*num {
		return nil, errors.New("font table directory too short")
	}
	tables := make(map[string][]byte, num)
	for i := range num {
		rec := ttf[12+16*i:]
		off, length := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if uint64(off)+uint64(length) > uint64(len(ttf)) {
			return nil, fmt.Errorf("font table %q out of the file", rec[:4])
		}
		tables[string(rec[:4])] = ttf[off : off+length]
	}
	return tables, nil
}

// writeTables writes a TrueType file of the tables, in tag order, with
// their checksums and head's checksum adjustment.
func writeTables(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	num := len(tags)
	pow := 1
	for pow*2 <= num {
		pow *= 2
	}
	var hdr [12]byte
	binary.BigEndian.PutUint32(hdr[0:], 0x00010000)
	binary.BigEndian.PutUint16(hdr[4:], uint16(num))
	binary.BigEndian.PutUint16(hdr[6:], uint16(pow*16))
	binary.BigEndian.PutUint16(hdr[8:], uint16(bitsLen(pow)-1))
	binary.BigEndian.PutUint16(hdr[10:], uint16(num*16-pow*16))
	out := append([]byte(nil), hdr[:]...)
	dir := make([]byte, 16*num)
	off := 12 + 16*num
	var body []byte
	headAt := -1
	for i, t := range tags {
		d := tables[t]
		rec := dir[16*i:]
		copy(rec, t)
		binary.BigEndian.PutUint32(rec[4:], checksum(d))
		binary.BigEndian.PutUint32(rec[8:], uint32(off+len(body)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(d)))
		if t == "head" {
			headAt = off + len(body)
		}
		body = append(body, d...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	out = append(out, dir...)
	out = append(out, body...)
	if headAt >= 0 {
		binary.BigEndian.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	}
	return out
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

func checksum(d []byte) uint32 {
	var sum uint32
	for i := 0; i < len(d); i += 4 {
		var w [4]byte
		copy(w[:], d[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
