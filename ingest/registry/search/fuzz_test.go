package search

import (
	"testing"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// FuzzPage feeds arbitrary answers to the page parser and the item
// extraction: no panic, and every item is a ward row, a foreign dossier or
// a bad item with a reason.
func FuzzPage(f *testing.F) {
	f.Add([]byte(`{"content":[{"code":"000.00.12.H57-200316-0001","acceptedDate":"2020-03-16T01:15:00.000+0000",` +
		`"appointmentDate":"2020-03-19T08:00:00+07:00","completedDate":1584489600000,"procedure":{"name":"Chứng thực"},` +
		`"dossierStatus":{"name":"Đã trả"}}],"totalPages":1}`))
	f.Add([]byte(`{"content":[{"code":"000.00.13.H57-200316-0001","acceptedDate":"16/03/2020"},null,7,[],` +
		`{"code":{"a":1},"acceptedDate":true},{"code":"x","acceptedDate":-1e400}],"totalPages":"2"}`))
	f.Add([]byte(`{"content":null,"totalPages":-1}`))
	f.Add([]byte(`{"content":{"code":"a"}} {}`))
	g, err := dossier.NewGrammar("")
	if err != nil {
		f.Fatal(err)
	}
	p, err := New(Config{URL: "http://127.0.0.1/{page}", Paging: PagingTotalPages, Grammar: g, Ward: ward,
		Paths: Paths{List: "content", Total: "totalPages", Code: "code", Received: "acceptedDate", Due: "appointmentDate",
			Returned: "completedDate", Procedure: "procedure.name", Status: "dossierStatus.name"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pg, err := p.parsePage(body)
		if err != nil {
			return
		}
		if pg.total < 0 {
			t.Fatalf("total %d", pg.total)
		}
		var res Result
		for i, it := range pg.items {
			p.add(&res, map[string]int{}, i+1, it)
		}
		if len(res.Rows)+len(res.Foreign)+len(res.Bad) != len(pg.items) {
			t.Fatalf("%d items became %d rows, %d foreign, %d bad", len(pg.items), len(res.Rows), len(res.Foreign), len(res.Bad))
		}
		for _, r := range res.Rows {
			if !g.Valid(r.Code) || dossier.Agency(r.Code) != ward || r.Received.IsZero() {
				t.Fatalf("row %+v", r)
			}
		}
		for _, pr := range append(res.Bad, res.Foreign...) {
			if pr.Reason == "" {
				t.Fatalf("problem without a reason: %+v", pr)
			}
		}
	})
}
