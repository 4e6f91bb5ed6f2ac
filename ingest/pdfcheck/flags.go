package pdfcheck

import (
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Flags name content a scanner never writes. sohoa never runs, renders or
// extracts any of it: a flagged file is judged by the same rules as any
// other and, when valid, uploaded as it is, with its flags logged and shown
// by `sohoa check`. Born-digital forms from the public-service portal carry
// fonts and form JavaScript; rejecting them would bounce citizens' papers.
const (
	FlagFonts         = "fonts"          // font resources (text, e.g. an OCR layer or a born-digital page)
	FlagJavaScript    = "javascript"     // JavaScript actions or a JavaScript name tree
	FlagEmbeddedFiles = "embedded_files" // attached files (embedded file streams, file attachments)
)

// flagBudget caps the dictionaries and arrays looked at for flags; the
// object count is already capped by the reader's limits.
const (
	flagBudget = 2_000_000
	flagDepth  = 32
)

// contentFlags returns the flags of a document, in a stable order.
func contentFlags(xt *model.XRefTable) []string {
	f := flagger{budget: flagBudget}
	for _, e := range xt.Table {
		if e == nil || e.Free || e.Object == nil {
			continue
		}
		f.visit(e.Object, 0)
		if f.budget <= 0 {
			break
		}
	}
	var out []string
	for _, k := range []struct {
		on   bool
		name string
	}{{f.fonts, FlagFonts}, {f.js, FlagJavaScript}, {f.files, FlagEmbeddedFiles}} {
		if k.on {
			out = append(out, k.name)
		}
	}
	return out
}

type flagger struct {
	budget           int
	fonts, js, files bool
}

// visit looks at an object and the direct objects inside it; indirect
// objects are visited from the table, once each.
func (f *flagger) visit(o types.Object, depth int) {
	if f.budget--; f.budget < 0 || depth > flagDepth {
		return
	}
	switch v := o.(type) {
	case types.StreamDict:
		f.dict(v.Dict, depth)
	case types.Dict:
		f.dict(v, depth)
	case types.Array:
		for _, e := range v {
			f.visit(e, depth+1)
		}
	}
}

func (f *flagger) dict(d types.Dict, depth int) {
	name := func(key string) string {
		if n, ok := d[key].(types.Name); ok {
			return n.Value()
		}
		return ""
	}
	switch name("Type") {
	case "Font", "FontDescriptor":
		f.fonts = true
	case "EmbeddedFile":
		f.files = true
	}
	if name("S") == "JavaScript" || d["JS"] != nil || d["JavaScript"] != nil {
		f.js = true
	}
	if d["EF"] != nil || d["EmbeddedFiles"] != nil || name("Subtype") == "FileAttachment" {
		f.files = true
	}
	for _, v := range d {
		f.visit(v, depth+1)
	}
}
