package metrics

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/metrics/report"
)

// RegistrySource gives the dossiers a ward received: its registry and the
// dossiers known only from scans, with other agencies' codes apart.
// *store.Store implements it.
type RegistrySource interface {
	Received(ward string) (list []store.ReceivedDossier, foreign []string, err error)
}

// ReportDossiers is what report.Compute needs of the store's received
// dossiers.
func ReportDossiers(list []store.ReceivedDossier) []report.Dossier {
	out := make([]report.Dossier, 0, len(list))
	for _, d := range list {
		out = append(out, report.Dossier{Code: d.Code, Received: d.Received, Digitized: d.Digitized,
			Due: d.Due, Returned: d.Returned})
	}
	return out
}

// Month returns the first and last day of the calendar month, in Vietnam
// time, that is offset months from the one t falls in (0: t's month, -1:
// the month before).
func Month(t time.Time, offset int) (first, last time.Time) {
	t = t.In(dossier.ICT())
	first = time.Date(t.Year(), t.Month()+time.Month(offset), 1, 0, 0, 0, 0, t.Location())
	return first, first.AddDate(0, 1, -1)
}

// Month label values of the cohort gauges.
const (
	monthCurrent  = "current"
	monthPrevious = "previous"
)

// cohortCollector shows the registry: dossiers received since ever, and the
// current and previous calendar month's cohorts exactly as `sohoa report`
// counts them, read at every scrape.
type cohortCollector struct {
	source   RegistrySource
	ward     string
	wardName string
	now      func() time.Time
	log      *slog.Logger
	errs     prometheus.Counter // shared with statsCollector: sohoa_stats_errors_total

	received, monthReceived, monthDigitized, foreign *prometheus.Desc
}

func newCohortCollector(src RegistrySource, ward, wardName string, now func() time.Time, errs prometheus.Counter, log *slog.Logger) *cohortCollector {
	labels := prometheus.Labels{"ward": ward}
	return &cohortCollector{
		source: src, ward: ward, wardName: wardName, now: now, log: log, errs: errs,
		received: prometheus.NewDesc("sohoa_dossiers_received_total",
			"Dossiers this ward received: every code in its registry (imported or pulled from the provincial "+
				"system) and every dossier known only from a scan's name, folder or receipt (rejected and held scans "+
				"included); other agencies' codes are not counted.",
			nil, labels),
		monthReceived: prometheus.NewDesc("sohoa_month_dossiers_received",
			"Dossiers received in the current or previous calendar month (Vietnam time), as sohoa report counts them.",
			[]string{"month"}, labels),
		monthDigitized: prometheus.NewDesc("sohoa_month_dossiers_digitized",
			"Dossiers received in the current or previous calendar month (Vietnam time) that have a scan "+
				"confirmed uploaded by now, as sohoa report counts them.",
			[]string{"month"}, labels),
		foreign: prometheus.NewDesc("sohoa_dossiers_foreign",
			"Dossier codes of other agencies in the registry or on scans; not counted as received here "+
				"(sohoa report names them).",
			nil, labels),
	}
}

func (c *cohortCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.received, c.monthReceived, c.monthDigitized, c.foreign} {
		ch <- d
	}
}

// Collect reads the source once; when that fails it logs, counts in
// sohoa_stats_errors_total and emits none of its metrics.
func (c *cohortCollector) Collect(ch chan<- prometheus.Metric) {
	list, foreign, err := c.source.Received(c.ward)
	if err != nil {
		c.errs.Inc()
		c.log.Error("cannot read the registry from the database; registry metrics left out of this scrape", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(len(list)))
	ch <- prometheus.MustNewConstMetric(c.foreign, prometheus.GaugeValue, float64(len(foreign)))
	now := c.now()
	ds := ReportDossiers(list)
	for _, m := range []struct {
		label  string
		offset int
	}{{monthCurrent, 0}, {monthPrevious, -1}} {
		first, last := Month(now, m.offset)
		row := report.Compute(c.ward, c.wardName, ds, first, last, now)
		ch <- prometheus.MustNewConstMetric(c.monthReceived, prometheus.GaugeValue, float64(row.Received), m.label)
		ch <- prometheus.MustNewConstMetric(c.monthDigitized, prometheus.GaugeValue, float64(row.Digitized), m.label)
	}
}
