package sign

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"golang.org/x/image/font/sfnt"

	"github.com/sohoa/sohoa/ingest/testenv"
)

var update = flag.Bool("update", false, "write DejaVuSans-vi.ttf again from Debian's DejaVu Sans")

const debianFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// embeddedTables are the tables the embedded font keeps: what sfnt needs to
// map characters to glyphs and measure them, and the hinting.
var embeddedTables = []string{"cmap", "hhea", "hmtx", "maxp", "name", "post", "OS/2", "cvt ", "fpgm", "prep", "gasp"}

// TestEmbeddedFontIsCurrent makes the embedded font again from the Debian
// file (fonts-dejavu-core) and compares: the file in the repository is
// reproducible. go test -run TestEmbeddedFontIsCurrent -update writes it.
func TestEmbeddedFontIsCurrent(t *testing.T) {
	testenv.NeedFile(t, debianFont, "fonts-dejavu-core")
	ttf, err := os.ReadFile(debianFont)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sfnt.Parse(ttf)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	var glyphs []uint16
	for _, r := range Vietnamese() {
		g, err := f.GlyphIndex(&buf, r)
		if err != nil || g == 0 {
			t.Fatalf("DejaVu Sans lacks %q: %v", r, err)
		}
		glyphs = append(glyphs, uint16(g))
	}
	sub, err := Subset(ttf, glyphs, embeddedTables)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("DejaVuSans-vi.ttf", sub, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(sub, dejaVuSans) {
		t.Fatalf("DejaVuSans-vi.ttf differs from a subset of %s made now (%d bytes, embedded %d): run with -update", debianFont, len(sub), len(dejaVuSans))
	}
	sf, err := newStampFont()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "Người số hóa: Đặng Thị Ưởng" {
		if g, w, err := sf.glyph(r); err != nil || g == 0 || (w <= 0 && r != ' ') {
			t.Errorf("%q: glyph %d width %v: %v", r, g, w, err)
		}
	}
}
