package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry"
)

// parsePage reads one answer: the list at Paths.List and, when the paging
// needs it, the total at Paths.Total.
func (p *Puller) parsePage(body []byte) (page, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return page{}, fmt.Errorf("%w: not JSON (%v): %s", ErrBadAnswer, err, province.Snippet(body))
	}
	if dec.More() {
		return page{}, fmt.Errorf("%w: more than one JSON value: %s", ErrBadAnswer, province.Snippet(body))
	}
	pg := page{total: -1}
	list, ok := p.paths.list.Find(doc)
	switch l := list.(type) {
	case []any:
		pg.items = l
	case nil:
		if !ok {
			return page{}, fmt.Errorf("%w: no list at %q: %s", ErrBadAnswer, p.c.Paths.List, province.Snippet(body))
		}
	default:
		return page{}, fmt.Errorf("%w: %q is not a list: %s", ErrBadAnswer, p.c.Paths.List, province.Snippet(body))
	}
	if p.paths.total != nil {
		v, _ := p.paths.total.Find(doc)
		n, err := count(v)
		if err != nil {
			return page{}, fmt.Errorf("%w: total %q: %v", ErrBadAnswer, p.c.Paths.Total, err)
		}
		pg.total = n
	}
	return pg, nil
}

// count reads a non-negative whole number, written as a number or a string.
func count(v any) (int, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case nil:
		return 0, errors.New("missing")
	default:
		return 0, fmt.Errorf("not a number: %v", v)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return n, nil
}

// item makes a row of one item of the list; n is its position in the pull.
func (p *Puller) item(n int, v any) (dossier.Record, registry.Problem, bool) {
	if _, ok := v.(map[string]any); !ok {
		return dossier.Record{}, registry.Problem{Line: n, Reason: fmt.Sprintf("item %d is not a JSON object", n)}, false
	}
	var f registry.Fields
	var reasons []string
	get := func(path province.JSONPath, date bool) string {
		if path == nil {
			return ""
		}
		x, _ := path.Find(v)
		s, err := text(x, date)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", path, err))
		}
		return s
	}
	f.Code = get(p.paths.code, false)
	f.Received = get(p.paths.received, true)
	f.Due = get(p.paths.due, true)
	f.Returned = get(p.paths.returned, true)
	f.Procedure = get(p.paths.procedure, false)
	f.Status = get(p.paths.status, false)
	if len(reasons) > 0 {
		return dossier.Record{}, registry.Problem{Line: n, Code: f.Code, Reason: strings.Join(reasons, "; ")}, false
	}
	return registry.Check(n, f, p.paths.names, p.c.Grammar, p.c.Ward)
}

// zoneNoColon is an ISO 8601 offset without its colon, as Java's
// SimpleDateFormat writes it (2020-03-16T01:15:00.000+0000).
var zoneNoColon = regexp.MustCompile(`(T[0-9:.]+[+-][0-9]{2})([0-9]{2})$`)

// text is a JSON value as registry.Check reads it. For a date, a number is
// a Unix time in milliseconds (Java's) or seconds, and an offset without a
// colon gets one. null and absent are "".
func text(v any, date bool) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if date {
			x = zoneNoColon.ReplaceAllString(strings.TrimSpace(x), "$1:$2")
		}
		return x, nil
	case json.Number:
		if !date {
			return x.String(), nil
		}
		f, err := x.Float64()
		if err != nil || f <= 0 || f > math.MaxInt64/2 {
			return "", fmt.Errorf("%s is not a Unix time", x)
		}
		ms := int64(f)
		if f < 1e11 { // seconds: 1e11 s is the year 5138
			ms = int64(f * 1000)
		}
		return time.UnixMilli(ms).In(dossier.ICT()).Format(time.RFC3339), nil
	case bool:
		return "", fmt.Errorf("%v is not text", x)
	}
	return "", errors.New("an object or a list, not a value")
}
