package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// letterRow is one row of the letter's appendix, as printed.
type letterRow struct {
	name                                 string
	received, digitized                  int
	rate                                 string
	onTime, late, pendingNotDue, overdue int
	perDay                               string
}

// readLetter reads testdata/huong-tra-2020.tsv, a copy of
// shared/reference/huong-tra-2020.tsv (TestLetterCopy keeps them equal).
func readLetter(t *testing.T) (wards []letterRow, total letterRow) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "huong-tra-2020.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	header := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if header {
			header = false
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 9 {
			t.Fatalf("bad TSV line %q", line)
		}
		n := func(s string) int {
			v, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("TSV: %v", err)
			}
			return v
		}
		r := letterRow{c[0], n(c[1]), n(c[2]), c[3], n(c[4]), n(c[5]), n(c[6]), n(c[7]), c[8]}
		if r.name == TotalName {
			total = r
		} else {
			wards = append(wards, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(wards) != 15 || total.name == "" {
		t.Fatalf("TSV: %d wards, total %q", len(wards), total.name)
	}
	return wards, total
}

func TestLetterCopy(t *testing.T) {
	shared, err := os.ReadFile(testenv.Shared(t, "reference", "huong-tra-2020.tsv"))
	if err != nil {
		t.Skipf("shared/ not beside the repository: %v", err)
	}
	local, err := os.ReadFile(filepath.Join("testdata", "huong-tra-2020.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, local) {
		t.Error("testdata/huong-tra-2020.tsv differs from shared/reference/huong-tra-2020.tsv")
	}
}

var (
	ict        = dossier.ICT()
	letterFrom = time.Date(2019, 12, 16, 0, 0, 0, 0, ict)
	letterTo   = time.Date(2020, 3, 18, 0, 0, 0, 0, ict)
	letterAsOf = time.Date(2020, 3, 20, 8, 0, 0, 0, ict) // the letter is dated 20/3/2020
)

// synthesize makes a ward's dossiers with the letter's counts: r.received
// in the period spread over its 94 days (the first at 00:00 on 16/12 and the
// last at 23:59:59 on 18/3, both given in UTC), r.digitized of them
// uploaded (some after the period ended, all before asOf), one more uploaded
// only after asOf, each resolution class in turn, and two dossiers just
// outside the period that must not count.
func synthesize(ward string, r letterRow) []Dossier {
	var ds []Dossier
	seq := map[string]int{}
	add := func(received time.Time) *Dossier {
		d := received.In(ict).Format("060102")
		seq[d]++
		ds = append(ds, Dossier{Code: fmt.Sprintf("%s-%s-%04d", ward, d, seq[d]), Received: received})
		return &ds[len(ds)-1]
	}
	classes := []int{r.onTime, r.late, r.pendingNotDue, r.overdue}
	class := 0
	for k := range r.received {
		received := letterFrom.AddDate(0, 0, k%94).Add(8*time.Hour + time.Duration(k/94)*time.Minute)
		switch k {
		case 0:
			received = letterFrom.UTC()
		case r.received - 1:
			received = letterTo.Add(24*time.Hour - time.Second).UTC()
		}
		d := add(received)
		if k < r.digitized {
			d.Digitized = received.Add(30 * 24 * time.Hour)
			if d.Digitized.After(letterAsOf) {
				d.Digitized = letterAsOf.Add(-time.Hour)
			}
		} else if k == r.digitized {
			d.Digitized = letterAsOf.Add(time.Hour)
		}
		for class < 4 && classes[class] == 0 {
			class++
		}
		classes[class]--
		rday := day(received)
		switch class {
		case 0: // returned the day it was due
			d.Due, d.Returned = rday.Add(24*time.Hour+17*time.Hour), rday.Add(24*time.Hour+16*time.Hour)
		case 1: // returned a day late
			d.Due, d.Returned = rday.Add(17*time.Hour), rday.Add(24*time.Hour+9*time.Hour)
		case 2: // due after asOf
			d.Due = time.Date(2020, 3, 25, 17, 0, 0, 0, ict)
		case 3: // due before asOf, not returned
			d.Due = rday.Add(17 * time.Hour)
		}
	}
	for _, out := range []time.Time{letterFrom.Add(-time.Second), letterTo.Add(24 * time.Hour)} {
		d := add(out.UTC())
		d.Digitized, d.Due, d.Returned = out.Add(time.Hour), out.Add(48*time.Hour), out.Add(2*time.Hour)
	}
	return ds
}

// TestLetter is the key test: for each of the letter's 15 wards, dossiers
// with its counts are computed into the ward's CSV; the town merges the 15
// files; the merged CSV must print every number of the letter's appendix.
func TestLetter(t *testing.T) {
	wards, total := readLetter(t)
	var files []*bytes.Buffer
	for i, w := range wards {
		code := fmt.Sprintf("000.00.%02d.H57", 10+i)
		row := Compute(code, w.name, synthesize(code, w), letterFrom, letterTo, letterAsOf)
		if row.Resolution == nil {
			t.Fatalf("%s: resolution unknown", w.name)
		}
		if want := (Ratio{int64(w.received), 94}); row.Resolution.PerDay != want {
			t.Errorf("%s: Compute's per day = %v, want %v (94 calendar days)", w.name, row.Resolution.PerDay, want)
		}
		// The letter divides by 90 days (see the package documentation).
		row.Resolution.PerDay = Ratio{int64(row.Received), 90}
		var b bytes.Buffer
		if err := WriteCSV(&b, []Row{row}); err != nil {
			t.Fatal(err)
		}
		files = append(files, &b)
	}
	readers := make([]io.Reader, len(files))
	for i, f := range files {
		readers[i] = f
	}
	rows, err := Merge(readers...)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteCSV(&out, rows); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("\uFEFF")) {
		t.Error("CSV has no byte-order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out.Bytes(), []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], "|"), strings.Join(Columns(true), "|"); got != want {
		t.Errorf("header %q, want %q", got, want)
	}
	if len(recs) != 17 {
		t.Fatalf("%d CSV records, want header + 15 wards + total", len(recs))
	}
	for i, w := range append(wards, total) {
		stt := strconv.Itoa(i + 1)
		if w.name == TotalName {
			stt = ""
		}
		want := []string{stt, w.name, strconv.Itoa(w.received), strconv.Itoa(w.digitized), w.rate,
			strconv.Itoa(w.onTime), strconv.Itoa(w.late), strconv.Itoa(w.pendingNotDue), strconv.Itoa(w.overdue), w.perDay}
		got := recs[i+1]
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("%s: %s = %q, the letter prints %q", w.name, recs[0][j], got[j], want[j])
			}
		}
	}
}
