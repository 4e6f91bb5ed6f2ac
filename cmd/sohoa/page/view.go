package page

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/metrics"
	"github.com/sohoa/sohoa/metrics/report"
)

// maxUnscanned is how many dossiers without a scan the page lists (the
// oldest); the others are counted.
const maxUnscanned = 300

// view is everything the page shows.
type view struct {
	Ward, WardName string
	Now            string
	Version        string
	Token          string
	Answer         *answer
	UploadProblem  string
	Today          []scanRow
	Waiting        []waitRow
	Unscanned      []unscannedRow
	UnscannedTotal int
	Months         []monthRow
	Errors         []errorRow
}

// scanRow is one of today's scans; a batch has its parts.
type scanRow struct {
	Time, Name   string
	Codes        []string
	Pages, Blank int
	State        string // in plain words
	Class        string // ok, wait, hold, error: the state's colour
	Why          string // why it waits, or what to do
	Parts        []scanRow
}

// waitRow is a scan waiting for a dossier code.
type waitRow struct {
	SHA, Name, Time, Reason string
	Found                   []string // codes its name or pages gave
	seen                    time.Time
}

// unscannedRow is a received dossier with no uploaded scan.
type unscannedRow struct {
	Code, Received string
	DaysAgo        int
	Known          bool // its received day is known
	Pending        bool // a scan of it waits for its upload
}

// monthRow is a month's count, printed as `sohoa report` prints it.
type monthRow struct {
	Label, Received, Digitized, Rate string
}

// errorRow is a rejected scan still in the errors folder.
type errorRow struct {
	Name, Time, Reason, Advice, Place string
	seen                              time.Time
	unrecorded                        bool        // rejected without a scan record (an empty file, say)
	code                              reason.Code // why
}

// version is what changes whenever the page would: the store's last
// commit, the day, and the staff folders (a clerk deleting a file there).
func (s *Server) version() (string, error) {
	v, err := s.cfg.Store.Version()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d-%s", v, s.cfg.Now().In(dossier.ICT()).Format("20060102"))
	for _, f := range []string{s.cfg.Errors, s.cfg.Waiting} {
		if fi, err := os.Stat(filepath.Join(s.cfg.Inbox, f)); err == nil {
			fmt.Fprintf(&b, "-%d", fi.ModTime().UnixNano())
		}
	}
	return b.String(), nil
}

func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) {
	v, err := s.version()
	if err != nil {
		s.cfg.Logger.Error("page: reading the store failed", "err", err)
		http.Error(w, "store", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, v)
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	v, err := s.build()
	if err == nil {
		v.Answer = s.takeAnswer(r.URL.Query().Get("answer"))
		var buf bytes.Buffer
		if err = s.tmpl.Execute(&buf, v); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(buf.Bytes()) //nolint:errcheck // the browser went away
			return
		}
	}
	s.cfg.Logger.Error("page: building the page failed", "err", err)
	http.Error(w, "Không đọc được dữ liệu của sohoa. Báo cán bộ CNTT.", http.StatusInternalServerError)
}

// build reads the store into a view: one pass over the scans, the upload
// queue, the registry.
func (s *Server) build() (view, error) {
	ver, err := s.version() // read first: a change while building shows at the next poll
	if err != nil {
		return view{}, err
	}
	now := s.cfg.Now().In(dossier.ICT())
	v := view{Ward: s.cfg.Ward, WardName: s.cfg.WardName, Now: now.Format("15:04 02/01/2006"), Version: ver, Token: s.token}
	jobs, _, err := s.cfg.Store.Due(now.AddDate(100, 0, 0), 10000, nil)
	if err != nil {
		return view{}, err
	}
	parked, err := s.cfg.Store.Parked()
	if err != nil {
		return view{}, err
	}
	up := uploadsOf(jobs, parked)
	v.UploadProblem = up.problem()
	today := now.Format(time.DateOnly)
	byBatch := map[string][]store.Scan{}
	var todays []store.Scan
	inbox, _ := os.OpenRoot(s.cfg.Inbox)
	if inbox != nil {
		defer inbox.Close()
	}
	present := func(place string) bool {
		if inbox == nil || place == "" {
			return false
		}
		_, err := inbox.Lstat(filepath.FromSlash(place))
		return err == nil
	}
	err = s.cfg.Store.Scans(func(sc store.Scan) bool {
		if sc.Batch != "" {
			byBatch[sc.Batch] = append(byBatch[sc.Batch], sc)
		} else if sc.Seen.In(dossier.ICT()).Format(time.DateOnly) == today {
			todays = append(todays, sc)
		}
		switch {
		case sc.State == store.Waiting && !sc.Gone && present(sc.Place):
			v.Waiting = append(v.Waiting, waitRow{SHA: sc.SHA256, Name: sc.Name, Time: when(sc.Seen, now),
				Reason: sc.Reason.Vietnamese(), Found: sc.Dossiers, seen: sc.Seen})
		case sc.State == store.Rejected && strings.HasPrefix(sc.Place, s.cfg.Errors+"/") && present(sc.Place):
			v.Errors = append(v.Errors, errorRow{Name: sc.Name, Time: when(sc.Seen, now), Reason: sc.Reason.Vietnamese(),
				Advice: sc.Reason.Advice(), Place: sc.Place, seen: sc.Seen, code: sc.Reason})
		}
		return true
	})
	if err != nil {
		return view{}, err
	}
	v.Errors = s.unrecorded(inbox, v.Errors, now)
	for _, e := range v.Errors {
		// Today's files rejected without a record are today's scans too.
		if e.unrecorded && e.seen.In(dossier.ICT()).Format(time.DateOnly) == today {
			todays = append(todays, store.Scan{Name: e.Name, Seen: e.seen, State: store.Rejected, Reason: e.code})
		}
	}
	slices.SortFunc(todays, func(a, b store.Scan) int { return b.Seen.Compare(a.Seen) })
	for _, sc := range todays {
		row := s.row(sc, now, up)
		parts := byBatch[sc.SHA256]
		slices.SortFunc(parts, func(a, b store.Scan) int {
			return slices.Index(sc.Parts, a.SHA256) - slices.Index(sc.Parts, b.SHA256)
		})
		for _, p := range parts {
			row.Parts = append(row.Parts, s.row(p, now, up))
		}
		v.Today = append(v.Today, row)
	}
	slices.SortFunc(v.Waiting, func(a, b waitRow) int { return a.seen.Compare(b.seen) })
	slices.SortFunc(v.Errors, func(a, b errorRow) int { return b.seen.Compare(a.seen) })
	if err := s.registry(&v, now, up); err != nil {
		return view{}, err
	}
	return v, nil
}

// registry fills the dossiers without a scan and the months' rates.
func (s *Server) registry(v *view, now time.Time, up uploads) error {
	list, _, err := s.cfg.Store.Received(s.cfg.Ward)
	if err != nil {
		return err
	}
	var missing []store.ReceivedDossier
	for _, d := range list {
		if d.Digitized.IsZero() {
			missing = append(missing, d)
		}
	}
	// Oldest first; a dossier whose received day is unknown last.
	slices.SortFunc(missing, func(a, b store.ReceivedDossier) int {
		if a.Received.IsZero() != b.Received.IsZero() {
			if a.Received.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.Received.Compare(b.Received), strings.Compare(a.Code, b.Code))
	})
	v.UnscannedTotal = len(missing)
	day := func(t time.Time) time.Time {
		t = t.In(dossier.ICT())
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, dossier.ICT())
	}
	for _, d := range missing[:min(len(missing), maxUnscanned)] {
		row := unscannedRow{Code: d.Code, Known: !d.Received.IsZero(), Pending: up.pending[d.Code]}
		if row.Known {
			row.Received = d.Received.In(dossier.ICT()).Format("02/01/2006")
			row.DaysAgo = int(day(now).Sub(day(d.Received)).Hours()/24 + 0.5)
		}
		v.Unscanned = append(v.Unscanned, row)
	}
	ds := metrics.ReportDossiers(list)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, dossier.ICT())
	for _, m := range []struct {
		label string
		from  time.Time
	}{{"Tháng này", first}, {"Tháng trước", first.AddDate(0, -1, 0)}} {
		to := m.from.AddDate(0, 1, -1)
		row := report.Compute(s.cfg.Ward, s.cfg.WardName, ds, m.from, to, now)
		header, body := report.Cells([]report.Row{row})
		cell := func(col string) string { return body[0][slices.Index(header, col)] }
		v.Months = append(v.Months, monthRow{Label: fmt.Sprintf("%s (%s)", m.label, m.from.Format("01/2006")),
			Received: cell(report.ColReceived), Digitized: cell(report.ColDigitized), Rate: cell(report.ColRate)})
	}
	return nil
}

// row is one scan in plain words.
func (s *Server) row(sc store.Scan, now time.Time, up uploads) scanRow {
	r := scanRow{Time: sc.Seen.In(dossier.ICT()).Format("15:04"), Name: sc.Name, Codes: sc.Dossiers, Pages: sc.Pages,
		Blank: sc.BlankDropped}
	switch sc.State {
	case store.Uploaded:
		r.State, r.Class = "Đã tải lên", "ok"
	case store.Queued:
		r.State, r.Class, r.Why = "Đang chờ tải lên", "wait", up.why(sc.SHA256)
	case store.Split:
		r.State, r.Class = fmt.Sprintf("Tệp nhiều hồ sơ, đã tách thành %d phần", len(sc.Parts)), "ok"
	case store.Waiting:
		r.State, r.Class, r.Why = "Chờ mã hồ sơ", "hold", sc.Reason.Vietnamese()
		if sc.Gone {
			r.State, r.Why = "Đã bị xóa khỏi thư mục, không tải lên", "Tệp không còn trong thư mục «"+s.cfg.Waiting+"»."
		}
	case store.Rejected:
		r.State, r.Class, r.Why = "Lỗi: "+sc.Reason.Vietnamese(), "error", sc.Reason.Advice()
	default:
		r.State = string(sc.State)
	}
	return r
}

// when is a time as the clerk reads it: the hour today, else the day too.
func when(t, now time.Time) string {
	t = t.In(dossier.ICT())
	if t.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return t.Format("15:04")
	}
	return t.Format("15:04 02/01/2006")
}

// uploads is what the upload queue says of queued scans.
type uploads struct {
	jobs    map[string]store.Job // a queued or parked job of each scan, the most tried
	parked  map[string]bool
	pending map[string]bool // dossiers with a job not yet confirmed
	failing *store.Job      // the oldest job that failed at least once
}

func uploadsOf(jobs, parked []store.Job) uploads {
	u := uploads{jobs: map[string]store.Job{}, parked: map[string]bool{}, pending: map[string]bool{}}
	for _, j := range jobs {
		if old, ok := u.jobs[j.SHA256]; !ok || j.Attempts > old.Attempts {
			u.jobs[j.SHA256] = j
		}
		u.pending[j.Dossier] = true
		if j.Attempts > 0 && j.LastError != "" && (u.failing == nil || j.Enqueued.Before(u.failing.Enqueued)) {
			u.failing = &j
		}
	}
	for _, j := range parked {
		u.jobs[j.SHA256], u.parked[j.SHA256], u.pending[j.Dossier] = j, true, true
	}
	return u
}

// why says why a queued scan is not uploaded yet.
func (u uploads) why(sha string) string {
	j, ok := u.jobs[sha]
	switch {
	case !ok:
		return ""
	case u.parked[sha]:
		return "Hệ thống của tỉnh không nhận tệp này. Báo cán bộ CNTT (lệnh sohoa parked)."
	case j.Attempts > 0:
		return fmt.Sprintf("Chưa gửi được tới hệ thống của tỉnh từ %s (đã thử %d lần); sohoa tự gửi lại, không cần làm gì.",
			j.Enqueued.In(dossier.ICT()).Format("15:04 02/01"), j.Attempts)
	}
	return "Đang gửi."
}

// problem is the banner shown while uploads fail.
func (u uploads) problem() string {
	if u.failing == nil {
		return ""
	}
	return fmt.Sprintf("Chưa gửi được hồ sơ tới hệ thống của tỉnh từ %s. Các bản quét vẫn được giữ an toàn và sẽ tự gửi lại khi kết nối được.",
		u.failing.Enqueued.In(dossier.ICT()).Format("15:04 02/01/2006"))
}
