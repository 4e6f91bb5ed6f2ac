// Package prom reads the town's table from a Prometheus that holds the
// wards' cohort metrics (sohoa_month_dossiers_received and _digitized,
// month="current"|"previous", and sohoa_ward_info), scraped directly or
// remote-written by the wards' agents, through its HTTP query API.
//
// # Which samples give a month
//
// Each daemon computes, at every scrape, its current and previous calendar
// month exactly as `sohoa report` counts them at that moment. The table of
// month M is therefore read from the last sample that still describes M:
//
//   - M is the current month: month="current", from M's first day to now.
//   - M is the previous month: month="previous", from the current month's
//     first day to now; the same as `sohoa report --month M` run now.
//   - M is older: month="previous" during the month after M, its last
//     sample: M as it stood at the end of the month after it. Dossiers
//     digitized later still count in the ward's own `sohoa report --month M`,
//     not here. When Prometheus no longer holds those samples (its
//     retention), the month cannot be given.
//
// A minute at each end of a window is left out, so that a scrape that
// straddles midnight at a month's turn never counts for the wrong month.
// The last sample in the window is taken, not the one at its end, so a
// ward whose PC was off over the month's last weekend still counts.
package prom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/metrics"
	"github.com/sohoa/sohoa/metrics/report"
)

// ErrNoMonth is wrapped by the error of a month Prometheus cannot give.
var ErrNoMonth = errors.New("cannot give the month")

// margin is left out at each end of a window (see the package documentation).
const margin = time.Minute

// Client queries one Prometheus.
type Client struct {
	// URL is Prometheus' base URL, e.g. http://prometheus:9090 (the API is
	// under /api/v1).
	URL *url.URL
	// HTTP makes the requests; Auth, when not nil, authorizes each.
	HTTP *http.Client
	Auth province.Authenticator
}

// Table is a month's table read from Prometheus.
type Table struct {
	// Rows are the wards' rows, sorted by ward code, then the TỔNG SỐ row.
	Rows []report.Row
	// Missing are the ward codes Prometheus knows (sohoa_ward_info from the
	// month's first day to now) that have no sample for the month.
	Missing []string
	// From and To are the window the samples were read from.
	From, To time.Time
}

// Month reads the table of the calendar month (Vietnam time) that first
// falls in, as of now. A month Prometheus holds no sample of is an error
// wrapping ErrNoMonth that says why.
func (c *Client) Month(ctx context.Context, first, now time.Time) (Table, error) {
	first, _ = metrics.Month(first, 0)
	cur, _ := metrics.Month(now, 0)
	label, from, to := "previous", first.AddDate(0, 1, 0), now
	switch {
	case first.After(cur):
		return Table{}, fmt.Errorf("%w %s: it has not begun", ErrNoMonth, first.Format("2006-01"))
	case first.Equal(cur):
		label, from = "current", first
	case first.Before(cur.AddDate(0, -1, 0)):
		to = first.AddDate(0, 2, 0).Add(-margin)
	}
	from = from.Add(margin)
	if !to.After(from) { // the first minute of a month
		from = to.Add(-margin)
	}
	t := Table{From: from, To: to}
	window := fmt.Sprintf("[%ds]", int64(to.Sub(from)/time.Second))
	sel := fmt.Sprintf(`{month=%q}%s`, label, window)
	received, err := c.query(ctx, `max by (ward) (last_over_time(sohoa_month_dossiers_received`+sel+`))`, to)
	if err != nil {
		return t, err
	}
	digitized, err := c.query(ctx, `max by (ward) (last_over_time(sohoa_month_dossiers_digitized`+sel+`))`, to)
	if err != nil {
		return t, err
	}
	info, err := c.query(ctx, `max by (ward, name) (last_over_time(sohoa_ward_info`+window+`))`, to)
	if err != nil {
		return t, err
	}
	names := map[string]string{}
	for _, s := range info {
		if n := s.Metric["name"]; names[s.Metric["ward"]] == "" || n != "" && n < names[s.Metric["ward"]] {
			names[s.Metric["ward"]] = n
		}
	}
	dig := map[string]int{}
	for _, s := range digitized {
		dig[s.Metric["ward"]] = s.count
	}
	for _, s := range received {
		ward := s.Metric["ward"]
		name := names[ward]
		if name == "" {
			name = ward
		}
		t.Rows = append(t.Rows, report.Row{Ward: ward, Name: name, Received: s.count, Digitized: dig[ward]})
	}
	slices.SortFunc(t.Rows, func(a, b report.Row) int { return strings.Compare(a.Ward, b.Ward) })
	known, err := c.query(ctx, fmt.Sprintf(`group by (ward) (last_over_time(sohoa_ward_info[%ds]))`,
		int64(max(now.Sub(first), margin)/time.Second)), now)
	if err != nil {
		return t, err
	}
	for _, s := range known {
		if !slices.ContainsFunc(t.Rows, func(r report.Row) bool { return r.Ward == s.Metric["ward"] }) {
			t.Missing = append(t.Missing, s.Metric["ward"])
		}
	}
	slices.Sort(t.Missing)
	if len(t.Rows) == 0 {
		return t, fmt.Errorf("%w %s: Prometheus holds no sohoa_month_dossiers_received{month=%q} from %s to %s "+
			"(older than its retention, or no ward reported then)", ErrNoMonth, first.Format("2006-01"), label,
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	t.Rows = append(t.Rows, report.Total(t.Rows))
	return t, nil
}

// sample is one series of an instant vector, its value a count.
type sample struct {
	Metric map[string]string
	count  int
}

// query evaluates an instant query at time at.
func (c *Client) query(ctx context.Context, q string, at time.Time) ([]sample, error) {
	u := c.URL.JoinPath("api", "v1", "query")
	u.RawQuery = url.Values{"query": {q}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	var body []byte
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("prometheus query: %w", err)
		}
		if c.Auth != nil {
			if err := c.Auth.Authorize(ctx, req); err != nil {
				return nil, fmt.Errorf("prometheus query: %w", err)
			}
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, fmt.Errorf("prometheus query: %w", err)
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("prometheus query: reading the answer: %w", err)
		}
		if resp.StatusCode == http.StatusUnauthorized && c.Auth != nil && try == 0 {
			if renewed, err := c.Auth.Renew(ctx, req); err != nil {
				return nil, fmt.Errorf("prometheus query: %w", err)
			} else if renewed {
				continue
			}
		}
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnprocessableEntity {
			return nil, fmt.Errorf("prometheus query %s: HTTP %s: %.200s", u.Redacted(), resp.Status, body)
		}
		break
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("prometheus query: the answer is not Prometheus' JSON (%.200s): %w", body, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus query %s: %s", q, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus query %s: a %s, not a vector", q, r.Data.ResultType)
	}
	out := make([]sample, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		v, _ := s.Value[1].(string)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f != float64(int(f)) {
			return nil, fmt.Errorf("prometheus query %s: %v for %v is not a count", q, s.Value[1], s.Metric)
		}
		out = append(out, sample{Metric: s.Metric, count: int(f)})
	}
	return out, nil
}
