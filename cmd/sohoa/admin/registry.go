package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/metrics"
	"github.com/sohoa/sohoa/metrics/report"
)

// maxImportBytes bounds an import request: a year of a ward's registry is a
// few thousand rows, a few hundred bytes each as JSON.
const maxImportBytes = 64 << 20

// ImportRequest carries registry rows the CLI parsed from a ward's export
// (the daemon may not be allowed to read the user's files). They are
// recorded in one transaction.
type ImportRequest struct {
	Rows []dossier.Record `json:"rows"`
}

// Import records rows from an export in st, in one transaction.
func Import(st Store, rows []dossier.Record, at time.Time) (store.RegistryStats, error) {
	return st.PutRegistry(rows, store.SourceImport, at)
}

// ReportResult is this ward's row of the town's table for a period, and
// the codes of other agencies the registry or the scans hold, which it does
// not count.
type ReportResult struct {
	Row     report.Row `json:"row"`
	Foreign []string   `json:"foreign,omitempty"`
}

// Report computes the ward's row for the days from..to (Vietnam time) as
// things stand at asOf.
func Report(st Store, ward, name string, from, to, asOf time.Time) (ReportResult, error) {
	list, foreign, err := st.Received(ward)
	if err != nil {
		return ReportResult{}, err
	}
	return ReportResult{Row: report.Compute(ward, name, metrics.ReportDossiers(list), from, to, asOf), Foreign: foreign}, nil
}

// parseDay reads a YYYY-MM-DD day as midnight in Vietnam.
func parseDay(s string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, dossier.ICT())
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is not a YYYY-MM-DD day", ErrBadRequest, s)
	}
	return t, nil
}

func (s *Server) importRows(w http.ResponseWriter, r *http.Request) {
	var req ImportRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxImportBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Errorf("%w: %w", ErrBadRequest, err))
		return
	}
	res, err := Import(s.cfg.Store, req.Rows, s.cfg.Now())
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	s.cfg.Logger.Info("registry rows imported", "rows", len(req.Rows), "added", res.Added,
		"updated", res.Updated, "unchanged", res.Unchanged)
	reply(w, http.StatusOK, res)
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, ferr := parseDay(q.Get("from"))
	to, terr := parseDay(q.Get("to"))
	if err := errors.Join(ferr, terr); err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	res, err := Report(s.cfg.Store, s.cfg.Ward, s.cfg.WardName, from, to, s.cfg.Now())
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err)
		return
	}
	reply(w, http.StatusOK, res)
}

// Import sends registry rows to the daemon, which records them in one
// transaction.
func (c *Client) Import(ctx context.Context, rows []dossier.Record) (store.RegistryStats, error) {
	var res store.RegistryStats
	err := c.do(ctx, http.MethodPost, "/import", ImportRequest{Rows: rows}, &res)
	return res, err
}

// Report asks the daemon for the ward's row for the days from..to.
func (c *Client) Report(ctx context.Context, from, to time.Time) (ReportResult, error) {
	var res ReportResult
	q := url.Values{"from": {from.Format(time.DateOnly)}, "to": {to.Format(time.DateOnly)}}
	err := c.do(ctx, http.MethodGet, "/report?"+q.Encode(), nil, &res)
	return res, err
}
