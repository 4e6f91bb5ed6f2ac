// Package report computes the town's digitization report — per ward, the
// dossiers received in a period, how many of them are digitized, the rate,
// and how they were resolved — and writes it the way the town's letter
// 1030/UBND-CNTT (Hương Trà, 2020) prints it: as a table, a CSV a ward sends
// to the town, and the town's table merged from the wards' CSVs. Package
// report/xlsx writes it as the letter's XLSX annex.
//
// # Counting
//
// A dossier belongs to the period (its cohort) when its received date, in
// Vietnam time, falls on one of the period's days. It counts as digitized
// when it was digitized at or before the report's as-of time, whenever that
// was: a dossier received in March and uploaded in April counts for March
// in a report made after the upload.
//
// # How the letter prints numbers
//
// Every value printed in the letter's appendix (reference table
// huong-tra-2020.tsv) is reproduced by these rules, and the tests check all
// of them:
//
//   - A value that is a whole number is printed without decimals: "100", "0".
//   - A ward's rate and its dossiers per day otherwise have two decimals,
//     rounded half up, with a comma as the decimal mark: 269/271 → "99,26",
//     156/250 → "62,40", 171/90 → "1,90". A rate that is not whole is never
//     printed as "100" or "0": it stops at "99,99" and "0,01" (the letter has
//     no such case; "100" must mean every dossier).
//   - The TỔNG SỐ (total) row has one decimal, truncated: the town's rate is
//     the total digitized over the total received, 3280/4595 = 71,38… →
//     "71,3" (rounding would give 71,4), and its dossiers per day are the
//     mean of the wards' printed values, 51,07/15 = 3,40… → "3,4".
//   - The letter's dossiers per day are received / 90 for a period of 94
//     calendar days (16/12/2019–18/3/2020): 749/90 = 8,32 for Tứ Hạ, where
//     749/94 would print 7,97. Compute divides by the calendar days of the
//     period; a caller reproducing the letter sets Resolution.PerDay itself.
//   - A rate over no dossier is printed "-".
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// TotalName is the name of the total row, as the letter prints it.
const TotalName = "TỔNG SỐ"

// Column names, exactly as the town's table heads them.
const (
	ColSTT            = "STT"
	ColName           = "Tên đơn vị"
	ColReceived       = "Tổng số"
	ColDigitized      = "Đã số hóa"
	ColRate           = "Tỷ lệ số hóa (%)"
	ColOnTime         = "Đã giải quyết đúng hạn"
	ColLate           = "Đã giải quyết quá hạn"
	ColPendingNotDue  = "Đang giải quyết chưa đến hạn"
	ColPendingOverdue = "Đang giải quyết quá hạn"
	ColPerDay         = "Bình quân hồ sơ/ngày"
)

// Columns returns the header of the town's table: the digitization columns,
// then the resolution columns when withResolution.
func Columns(withResolution bool) []string {
	cols := []string{ColSTT, ColName, ColReceived, ColDigitized, ColRate}
	if withResolution {
		cols = append(cols, ColOnTime, ColLate, ColPendingNotDue, ColPendingOverdue, ColPerDay)
	}
	return cols
}

// Dossier is what Compute needs to know of one dossier.
type Dossier struct {
	// Code is the dossier code; Compute does not read it.
	Code string
	// Received is the registry's received date, or for a dossier known only
	// from a scan the date in its code.
	Received time.Time
	// Digitized is when the first valid scan of the dossier was confirmed
	// uploaded; zero: not digitized.
	Digitized time.Time
	// Due is the date the result is due and Returned the date it was
	// returned; zero: unknown (no registry entry with them) and not returned.
	Due, Returned time.Time
}

// Ratio is a non-negative fraction, kept exact so that printing can round
// it the letter's way. A zero Den means undefined.
type Ratio struct{ Num, Den int64 }

// Resolution is the letter's second table for one row: how the received
// dossiers stand, and how many were received per day.
type Resolution struct {
	// OnTime and Late are dossiers whose result was returned on or before
	// its due day, and after it.
	OnTime, Late int
	// PendingNotDue and PendingOverdue are dossiers not yet returned whose
	// due day is today or later, and earlier.
	PendingNotDue, PendingOverdue int
	// PerDay is the dossiers received per day.
	PerDay Ratio
}

// Row is one line of the town's table. The zero value is an empty ward row.
type Row struct {
	// Ward is the ward's agency code; it is not printed.
	Ward string
	// Name is the unit's name, printed in "Tên đơn vị".
	Name string
	// Received ("Tổng số") and Digitized ("Đã số hóa") count the period's
	// dossiers and those of them digitized.
	Received, Digitized int
	// Resolution is nil when not every dossier of the period has a due date
	// (no registry, or a registry export without due dates): the columns are
	// then left out (or empty beside rows that have them).
	Resolution *Resolution
	// Total marks the TỔNG SỐ row, printed with the total's own rounding.
	Total bool
}

// Compute counts one ward's dossiers received on the days from from to to
// (both included, in Vietnam time) as they stand at asOf: digitized,
// returned and pending as of that moment. Dossiers received after asOf are
// left out. PerDay divides by the days from from to to, or to asOf's day
// when that is earlier.
func Compute(ward, name string, ds []Dossier, from, to, asOf time.Time) Row {
	first, last, now := day(from), day(to), day(asOf)
	row := Row{Ward: ward, Name: name}
	res := &Resolution{}
	anyDue := false
	for _, d := range ds {
		anyDue = anyDue || !d.Due.IsZero()
		r := day(d.Received)
		if d.Received.IsZero() || r.Before(first) || r.After(last) || d.Received.After(asOf) {
			continue
		}
		row.Received++
		if !d.Digitized.IsZero() && !d.Digitized.After(asOf) {
			row.Digitized++
		}
		if res == nil {
			continue
		}
		if d.Due.IsZero() {
			res = nil
			continue
		}
		due := day(d.Due)
		switch {
		case !d.Returned.IsZero() && !d.Returned.After(asOf) && !day(d.Returned).After(due):
			res.OnTime++
		case !d.Returned.IsZero() && !d.Returned.After(asOf):
			res.Late++
		case !now.After(due):
			res.PendingNotDue++
		default:
			res.PendingOverdue++
		}
	}
	if res != nil && (row.Received > 0 || anyDue) {
		end := last
		if now.Before(end) {
			end = now
		}
		res.PerDay = Ratio{int64(row.Received), max(0, days(first, end))}
		row.Resolution = res
	}
	return row
}

// day is t's calendar day in Vietnam, at midnight.
func day(t time.Time) time.Time {
	t = t.In(dossier.ICT())
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// days counts the days from first to last, both included (ICT has no DST,
// so every day is 24 hours).
func days(first, last time.Time) int64 {
	return int64(last.Sub(first).Hours())/24 + 1
}

// Total sums ward rows into the TỔNG SỐ row. Its resolution is known when
// every ward's is; its PerDay is the mean of the wards' PerDay as printed
// (rounded to hundredths), as the letter averages its printed values.
// Total rows among rows are skipped.
func Total(rows []Row) Row {
	t := Row{Name: TotalName, Total: true, Resolution: &Resolution{}}
	var n, centi int64
	for _, r := range rows {
		if r.Total {
			continue
		}
		n++
		t.Received += r.Received
		t.Digitized += r.Digitized
		if r.Resolution == nil || t.Resolution == nil {
			t.Resolution = nil
			continue
		}
		t.Resolution.OnTime += r.Resolution.OnTime
		t.Resolution.Late += r.Resolution.Late
		t.Resolution.PendingNotDue += r.Resolution.PendingNotDue
		t.Resolution.PendingOverdue += r.Resolution.PendingOverdue
		centi += hundredths(r.Resolution.PerDay)
	}
	if t.Resolution != nil {
		t.Resolution.PerDay = Ratio{centi, 100 * n}
	}
	return t
}

// RateText is "Tỷ lệ số hóa (%)" as the letter prints it.
func (r Row) RateText() string {
	return format(Ratio{100 * int64(r.Digitized), int64(r.Received)}, r.Total, true)
}

// PerDayText is the dossiers per day as the letter prints them; "" when the
// resolution is unknown.
func (r Row) PerDayText() string {
	if r.Resolution == nil {
		return ""
	}
	return format(r.Resolution.PerDay, r.Total, false)
}

// hundredths rounds q×100 half up.
func hundredths(q Ratio) int64 {
	if q.Den == 0 {
		return 0
	}
	return (200*q.Num + q.Den) / (2 * q.Den)
}

// format prints q the letter's way (see the package documentation): whole
// numbers bare, otherwise two decimals rounded half up, or for a total one
// decimal truncated. A clamped value that is not whole never prints as the
// whole number next to it.
func format(q Ratio, total, clamp bool) string {
	switch {
	case q.Den == 0:
		return "-"
	case q.Num%q.Den == 0:
		return fmt.Sprint(q.Num / q.Den)
	case total:
		t := 10 * q.Num / q.Den
		return fmt.Sprintf("%d,%d", t/10, t%10)
	}
	c := hundredths(q)
	if clamp {
		whole := q.Num / q.Den
		c = min(max(c, 100*whole+1), 100*whole+99)
	}
	return fmt.Sprintf("%d,%02d", c/100, c%100)
}

// ParseNumber reads a number as the report prints it: "62,40", "100", "3,4".
// It returns the value in hundredths; ok is false for anything else
// (including "-").
func ParseNumber(s string) (centi int64, ok bool) {
	whole, frac, hasFrac := strings.Cut(s, ",")
	if whole == "" || len(whole) > 12 || hasFrac && (len(frac) < 1 || len(frac) > 2) {
		return 0, false
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, false
			}
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	var f int64
	if hasFrac {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	return w*100 + f, true
}
