package registry

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// dayFirst are the layouts of dates written the Vietnamese way, day first,
// with an optional time (before or after the date, 24-hour or with AM/PM,
// which Vietnamese Windows writes SA/CH), and ISO 8601 without a zone.
var dayFirst = []string{
	"2/1/2006", "2/1/2006 15:04", "2/1/2006 15:04:05",
	"2-1-2006", "2-1-2006 15:04", "2-1-2006 15:04:05",
	"15:04 2/1/2006", "15:04:05 2/1/2006",
	"2/1/2006 3:04 PM", "2/1/2006 3:04:05 PM",
	"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999",
}

// errDate is the reason for a date that is none of the accepted forms.
var errDate = errors.New("not a date (dd/mm/yyyy, dd/mm/yyyy hh:mm, yyyy-mm-dd or RFC 3339)")

// parseDate reads a date cell into ICT. serial accepts spreadsheet date
// serial numbers (XLSX cells), counted from 1904 when date1904. Years
// outside 2000–2099 are refused: dossier codes carry the year in two digits,
// and such a date is a typing or conversion error.
func parseDate(s string, serial, date1904 bool) (time.Time, error) {
	s = strings.Join(strings.Fields(s), " ")
	if rest, ok := strings.CutSuffix(s, " SA"); ok { // sáng: AM
		s = rest + " AM"
	} else if rest, ok := strings.CutSuffix(s, " CH"); ok { // chiều: PM
		s = rest + " PM"
	}
	loc := dossier.ICT()
	var t time.Time
	if v, ok := isSerial(s); serial && ok {
		u, err := excelize.ExcelDateToTime(v, date1904)
		if err != nil {
			return time.Time{}, fmt.Errorf("spreadsheet date %s: %w", s, err)
		}
		u = u.Round(time.Second) // serials are binary fractions of a day
		t = time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), 0, loc)
	} else if u, err := time.Parse(time.RFC3339Nano, s); err == nil {
		t = u.In(loc)
	} else {
		for _, layout := range dayFirst {
			if u, err := time.ParseInLocation(layout, s, loc); err == nil {
				t = u
				break
			}
		}
		if t.IsZero() {
			return time.Time{}, errDate
		}
	}
	if t.Year() < 2000 || t.Year() > 2099 {
		return time.Time{}, fmt.Errorf("year %d is out of range", t.Year())
	}
	return t, nil
}
