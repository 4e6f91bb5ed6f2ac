package admin

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
)

// TestImportAndReport sends registry rows through the socket twice and
// asks for the report, and checks that bad days are usage errors.
func TestImportAndReport(t *testing.T) {
	f := newFixture(t)
	c, err := Dial(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	ict := dossier.ICT()
	rows := []dossier.Record{
		{Line: 2, Code: "000.00.12.H57-200302-0001", Received: time.Date(2020, 3, 2, 9, 0, 0, 0, ict)},
		{Line: 3, Code: "000.00.12.H57-200331-0001", Received: time.Date(2020, 3, 31, 16, 30, 0, 0, ict)},
		{Line: 4, Code: "000.00.12.H57-200401-0001", Received: time.Date(2020, 4, 1, 7, 0, 0, 0, ict)},
	}
	for i, want := range []store.RegistryStats{{Added: 3}, {Unchanged: 3}} {
		got, err := c.Import(t.Context(), rows)
		if err != nil || got != want {
			t.Errorf("import %d: %+v %v, want %+v", i+1, got, err, want)
		}
	}
	f.park(t, "scan", rows[0].Code, time.Now()) // a scan of the first dossier, not uploaded
	from := time.Date(2020, 3, 1, 0, 0, 0, 0, ict)
	res, err := c.Report(t.Context(), from, from.AddDate(0, 1, -1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Row.Received != 2 || res.Row.Digitized != 0 || res.Row.Resolution != nil || len(res.Foreign) != 0 {
		t.Errorf("March: %+v", res)
	}
	for _, q := range []string{"from=2020-03-01", "from=2020-03-01&to=31/03/2020", "from=&to="} {
		var out ReportResult
		if err := c.do(t.Context(), http.MethodGet, "/report?"+q, nil, &out); !errors.Is(err, ErrBadRequest) {
			t.Errorf("report?%s: %v, want ErrBadRequest", q, err)
		}
	}
	var out store.RegistryStats
	if err := c.do(t.Context(), http.MethodPost, "/import", map[string]any{"lines": 1}, &out); !errors.Is(err, ErrBadRequest) {
		t.Errorf("import of an unknown field: %v, want ErrBadRequest", err)
	}
}
