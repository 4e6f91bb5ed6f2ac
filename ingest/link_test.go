package ingest

import (
	"slices"
	"testing"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
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
		codes, r, detail := l.link(tt.rel)
		if !slices.Equal(codes, tt.codes) || r != tt.reason {
			t.Errorf("link(%q) = %q, %q (%s); want %q, %q", tt.rel, codes, r, detail, tt.codes, tt.reason)
		}
	}
	l.AcceptForeign = true
	if _, r, _ := l.link("000.00.13.H57-200320-0001.pdf"); r != "" {
		t.Errorf("accept_foreign: still held: %s", r)
	}
}

func FuzzLink(f *testing.F) {
	g, _ := dossier.NewGrammar("")
	l := &Linker{Grammar: g, Ward: "000.00.12.H57", SkipFolder: "Chờ mã hồ sơ"}
	f.Add("000.00.12.H57-200320-0001/x 000.00.12.H57-200320-0002.pdf")
	f.Add("Chờ mã hồ sơ/../a.pdf")
	f.Add("HS 000.00.12.h57-200320-0002 to khai.pdf")
	f.Add("Chờ mã hồ sơ/scan_0009 000.00.12.H57-200320-0009.pdf")
	f.Add("000.00.13.H57-200320-0001.pdf")
	f.Add("Ho\u0302\u0300 so\u031b 000.00.12.H57-200320-0003/trang 1.pdf")
	f.Fuzz(func(t *testing.T, rel string) {
		codes, r, _ := l.link(rel)
		if r == "" && len(codes) != 1 {
			t.Fatalf("link(%q) linked to %d codes", rel, len(codes))
		}
		if r == reason.AmbiguousCode && len(codes) < 2 {
			t.Fatalf("link(%q) ambiguous with %q", rel, codes)
		}
	})
}

func TestReceipt(t *testing.T) {
	g, _ := dossier.NewGrammar("")
	l := &Linker{Grammar: g, Ward: "000.00.12.H57"}
	const a, b, foreign = "000.00.12.H57-200320-0003", "000.00.12.H57-200320-0004", "000.00.13.H57-200320-0001"
	receipt := func(i int, code, sym string) barcode.Page {
		return barcode.Page{Index: i, Image: true, Codes: []barcode.Found{{Code: code, Symbology: sym}}}
	}
	content := func(i int) barcode.Page { return barcode.Page{Index: i, Image: true} }
	blank := func(i int) barcode.Page { return barcode.Page{Index: i, Image: true, Blank: true} }
	tests := []struct {
		name      string
		nameCodes []string
		nameHold  reason.Code
		pages     []barcode.Page
		codes     []string
		hold      reason.Code
		via       string
	}{
		{"no receipt, no name", nil, reason.NoCode, []barcode.Page{content(1)}, nil, reason.NoCode, ""},
		{"receipt links", nil, reason.NoCode, []barcode.Page{receipt(1, a, "qr"), content(2)}, []string{a}, "", "qr"},
		{"blank before receipt", nil, reason.NoCode, []barcode.Page{blank(1), receipt(2, a, "code128")}, []string{a}, "", "code128"},
		{"name and receipt agree", []string{a}, "", []barcode.Page{receipt(1, a, "qr")}, []string{a}, "", ""},
		{"name and receipt disagree", []string{a}, "", []barcode.Page{receipt(1, b, "qr")}, []string{a, b}, reason.CodeConflict, ""},
		{"batch", nil, reason.NoCode, []barcode.Page{receipt(1, a, "qr"), content(2), receipt(3, b, "qr")}, []string{a, b}, reason.Batch, ""},
		{"content before receipt", nil, reason.NoCode, []barcode.Page{content(1), receipt(2, a, "qr")}, nil, reason.Batch, ""},
		{"same receipt twice", nil, reason.NoCode, []barcode.Page{receipt(1, a, "qr"), receipt(2, a, "qr")}, []string{a}, "", "qr"},
		{"two codes on a page", nil, reason.NoCode, []barcode.Page{{Index: 1, Image: true, Codes: []barcode.Found{{Code: a}, {Code: b}}}}, nil, reason.AmbiguousCode, ""},
		{"foreign receipt", nil, reason.NoCode, []barcode.Page{receipt(1, foreign, "qr")}, []string{foreign}, reason.ForeignAgency, ""},
		{"name ambiguous stays", []string{a, b}, reason.AmbiguousCode, []barcode.Page{receipt(1, a, "qr")}, []string{a, b}, reason.AmbiguousCode, ""},
	}
	for _, tt := range tests {
		codes, hold, detail, via := l.receipt(tt.nameCodes, tt.nameHold, "", tt.pages)
		if !slices.Equal(codes, tt.codes) || hold != tt.hold || via != tt.via {
			t.Errorf("%s: got %q %q %q (%s); want %q %q %q", tt.name, codes, hold, via, detail, tt.codes, tt.hold, tt.via)
		}
	}
}

func TestSplit(t *testing.T) {
	g, _ := dossier.NewGrammar("")
	l := &Linker{Grammar: g, Ward: "000.00.12.H57"}
	const a, b, foreign = "000.00.12.H57-200321-0001", "000.00.12.H57-200321-0002", "000.00.13.H57-200321-0001"
	r := func(i int, code string) barcode.Page {
		return barcode.Page{Index: i, Image: true, Codes: []barcode.Found{{Code: code, Symbology: "qr"}}}
	}
	c := func(i int) barcode.Page { return barcode.Page{Index: i, Image: true} }
	blank := func(i int) barcode.Page { return barcode.Page{Index: i, Image: true, Blank: true} }
	pagesOf := func(ps []Part) [][]int {
		var out [][]int
		for _, p := range ps {
			out = append(out, p.Pages)
		}
		return out
	}
	tests := []struct {
		name  string
		pages []barcode.Page
		want  [][]int
	}{
		{"three dossiers", []barcode.Page{r(1, a), c(2), r(3, b), c(4), c(5)}, [][]int{{1, 2}, {3, 4, 5}}},
		{"blank before the first receipt", []barcode.Page{blank(1), r(2, a), r(3, b)}, [][]int{{2}, {3}}},
		{"same receipt twice stays one part", []barcode.Page{r(1, a), r(2, a), r(3, b)}, [][]int{{1, 2}, {3}}},
		// Pages before the first receipt are a part of their own (held);
		// blank ones among them are left out.
		{"content before the first receipt", []barcode.Page{c(1), blank(2), c(3), r(4, a), r(5, b)}, [][]int{{1, 3}, {4}, {5}}},
		{"content before the only receipt", []barcode.Page{c(1), r(2, a), c(3)}, [][]int{{1}, {2, 3}}},
		{"a born-digital page before the receipt", []barcode.Page{{Index: 1}, r(2, a)}, [][]int{{1}, {2}}},
		{"no receipt", []barcode.Page{c(1), c(2)}, nil},
		{"one dossier only", []barcode.Page{r(1, a), c(2)}, nil},
		{"a foreign receipt", []barcode.Page{r(1, a), r(2, foreign)}, nil},
		{"two codes on one page", []barcode.Page{r(1, a), {Index: 2, Image: true, Codes: []barcode.Found{{Code: a}, {Code: b}}}}, nil},
	}
	for _, tt := range tests {
		got := pagesOf(l.cut(tt.pages))
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			continue
		}
		for i, p := range l.cut(tt.pages) {
			if held := i == 0 && len(tt.pages) > 0 && len(tt.pages[0].Codes) == 0 && !tt.pages[0].Blank; held != (p.Code == "") {
				t.Errorf("%s: part %d has code %q", tt.name, i+1, p.Code)
			}
		}
		for i := range got {
			if !slices.Equal(got[i], tt.want[i]) {
				t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}

func TestDecide(t *testing.T) {
	g, _ := dossier.NewGrammar("")
	l := &Linker{Grammar: g, Ward: "000.00.12.H57", SkipFolder: "Chờ mã hồ sơ"}
	const a, b, c, foreign = "000.00.12.H57-200321-0001", "000.00.12.H57-200321-0002", "000.00.12.H57-200321-0003", "000.00.13.H57-200321-0001"
	r := func(i int, code, sym string) barcode.Page {
		return barcode.Page{Index: i, Image: true, Codes: []barcode.Found{{Code: code, Symbology: sym}}}
	}
	p := func(i int) barcode.Page { return barcode.Page{Index: i, Image: true} }
	valid := func(pages int) pdfcheck.Result { return pdfcheck.Result{Pages: pages, MinDPI: 200} }
	lowDPI := pdfcheck.Result{Reason: reason.LowDPI, Detail: "page 1: 100 dpi below 200", Pages: 2, MinDPI: 100}
	duplex := pdfcheck.Result{Pages: 5, MinDPI: 200, BlankSearched: true, Blank: []int{1, 3, 5}}
	threeReceipts := []barcode.Page{r(1, a, "qr"), p(2), r(3, b, "qr"), p(4), r(5, c, "code128"), p(6)}
	tests := []struct {
		name     string
		found    Findings
		state    store.State
		reason   reason.Code
		dossiers []string
		via      string
		parts    [][]int     // a split's parts' pages
		blank    []int       // pages left out as blank
		whole    reason.Code // the hold of a split batch that cannot be cut
	}{
		{"code in the name", Findings{Path: "HS " + a + ".pdf", Check: valid(2)},
			store.Queued, "", []string{a}, "name", nil, nil, ""},
		{"code in a folder", Findings{Path: a + "/trang 1.pdf", Check: valid(2)},
			store.Queued, "", []string{a}, "folder", nil, nil, ""},
		{"no code, receipts not read", Findings{Path: "scan_0009.pdf", Check: valid(2)},
			store.Waiting, reason.NoCode, nil, "", nil, nil, ""},
		{"no code, nor on the pages", Findings{Path: "Chờ mã hồ sơ/scan_0009.pdf", Check: valid(2), Receipts: []barcode.Page{p(1), p(2)}},
			store.Waiting, reason.NoCode, nil, "", nil, nil, ""},
		{"a receipt links", Findings{Path: "scan_0003.pdf", Check: valid(2), Receipts: []barcode.Page{r(1, a, "code128"), p(2)}},
			store.Queued, "", []string{a}, "code128", nil, nil, ""},
		{"name and receipt agree", Findings{Path: a + ".pdf", Check: valid(2), Receipts: []barcode.Page{r(1, a, "qr")}},
			store.Queued, "", []string{a}, "name", nil, nil, ""},
		{"name and receipt disagree", Findings{Path: a + ".pdf", Check: valid(2), Receipts: []barcode.Page{r(1, b, "qr")}},
			store.Waiting, reason.CodeConflict, []string{a, b}, "", nil, nil, ""},
		{"two codes in the name", Findings{Path: a + " " + b + ".pdf", Check: valid(2)},
			store.Waiting, reason.AmbiguousCode, []string{a, b}, "", nil, nil, ""},
		{"a foreign agency's code", Findings{Path: foreign + ".pdf", Check: valid(2)},
			store.Waiting, reason.ForeignAgency, []string{foreign}, "", nil, nil, ""},
		{"a batch of three receipts", Findings{Path: "gộp.pdf", Check: valid(6), Receipts: threeReceipts},
			store.Split, "", []string{a, b, c}, "qr", [][]int{{1, 2}, {3, 4}, {5, 6}}, nil, reason.Batch},
		{"a batch saved under its first code", Findings{Path: a + ".pdf", Check: valid(6), Receipts: threeReceipts},
			store.Split, "", []string{a, b, c}, "qr", [][]int{{1, 2}, {3, 4}, {5, 6}}, nil, reason.Batch},
		{"pages before the first receipt", Findings{Path: "gộp.pdf", Check: valid(4), Receipts: []barcode.Page{p(1), r(2, a, "qr"), p(3), r(4, b, "qr")}},
			store.Split, "", []string{a, b}, "qr", [][]int{{1}, {2, 3}, {4}}, nil, reason.Batch},
		{"a batch with a foreign receipt is held whole", Findings{Path: "gộp.pdf", Check: valid(2), Receipts: []barcode.Page{r(1, a, "qr"), r(2, foreign, "qr")}},
			store.Waiting, reason.Batch, []string{a, foreign}, "", nil, nil, ""},
		{"rejected by its check, named", Findings{Path: a + ".pdf", Check: lowDPI},
			store.Rejected, reason.LowDPI, []string{a}, "name", nil, nil, ""},
		{"rejected by its check, receipts not heeded", Findings{Path: "lowres_0001.pdf", Check: lowDPI, Receipts: []barcode.Page{r(1, a, "qr")}},
			store.Rejected, reason.LowDPI, nil, "", nil, nil, ""},
		{"blank backs, not the receipt's page", Findings{Path: "duplex.pdf", Check: duplex, Receipts: []barcode.Page{{Index: 1, Image: true, Blank: true, Codes: []barcode.Found{{Code: a, Symbology: "qr"}}}}},
			store.Queued, "", []string{a}, "qr", nil, []int{3, 5}, ""},
		{"blank pages of a rejected scan are not looked at", Findings{Path: a + ".pdf", Check: pdfcheck.Result{Reason: reason.LowDPI, Pages: 5, BlankSearched: true, Blank: []int{3}}},
			store.Rejected, reason.LowDPI, []string{a}, "name", nil, nil, ""},
	}
	for _, tt := range tests {
		f := l.Decide(tt.found)
		var parts [][]int
		for _, part := range f.Parts {
			parts = append(parts, part.Pages)
		}
		if f.State != tt.state || f.Reason != tt.reason || !slices.Equal(f.Dossiers, tt.dossiers) || f.Via != tt.via ||
			!slices.EqualFunc(parts, tt.parts, slices.Equal) || !slices.Equal(f.Blank, tt.blank) {
			t.Errorf("%s: %s %q %q via %q, parts %v, blank %v; want %s %q %q via %q, parts %v, blank %v", tt.name,
				f.State, f.Reason, f.Dossiers, f.Via, parts, f.Blank, tt.state, tt.reason, tt.dossiers, tt.via, tt.parts, tt.blank)
		}
		if (f.Whole == nil) != (tt.whole == "") || f.Whole != nil && (f.Whole.State != store.Waiting || f.Whole.Reason != tt.whole) {
			t.Errorf("%s: held whole as %+v, want %q", tt.name, f.Whole, tt.whole)
		}
		if f.State == store.Waiting && (f.Hold != f.Reason || f.HoldDetail != f.Detail) {
			t.Errorf("%s: waiting for %q (%s), but its hold is %q (%s)", tt.name, f.Reason, f.Detail, f.Hold, f.HoldDetail)
		}
	}

	// Accepting foreign codes links them.
	fl := &Linker{Grammar: g, Ward: "000.00.12.H57", AcceptForeign: true}
	if f := fl.Decide(Findings{Path: foreign + ".pdf", Check: valid(2)}); f.State != store.Queued || !slices.Equal(f.Dossiers, []string{foreign}) {
		t.Errorf("accept_foreign: %+v", f)
	}
	// A rejected scan without a code says what linking it would need.
	if f := l.Decide(Findings{Path: "lowres_0001.pdf", Check: lowDPI}); f.Hold != reason.NoCode || f.Detail != lowDPI.Detail {
		t.Errorf("rejected without a code: %+v", f)
	}
}

func TestFateBlankDropped(t *testing.T) {
	for _, tt := range []struct {
		name string
		fate Fate
		want int
	}{
		{"whole scan", Fate{State: store.Queued, Blank: []int{2, 4}}, 2},
		{"a part keeps its pages when all are blank", Fate{State: store.Split, Blank: []int{2, 4, 5},
			Parts: []Part{{Code: "a", Pages: []int{1, 2, 3}}, {Code: "b", Pages: []int{4, 5}}}}, 1},
	} {
		if got := tt.fate.BlankDropped(); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
