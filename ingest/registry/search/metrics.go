package search

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Pull results, the values of sohoa_registry_pulls_total's result label.
const (
	ResultSuccess    = "success"    // every page read and the rows stored
	ResultIncomplete = "incomplete" // the page limit stopped it; what was read was stored
	ResultFailure    = "failure"    // a page failed on every attempt, or the rows could not be stored
)

// metrics are the puller's; every label value exists from the start at zero,
// and each carries the ward label, as every sohoa_ metric does.
type metrics struct {
	pulls       *prometheus.CounterVec
	lastSuccess prometheus.Gauge
	dossiers    prometheus.Counter
	rejected    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, ward string) (*metrics, error) {
	labels := prometheus.Labels{"ward": ward}
	m := &metrics{
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "sohoa_registry_pulls_total",
			Help:        "Pulls of received dossiers from the provincial system's search API, by result (success, incomplete, failure).",
			ConstLabels: labels,
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "sohoa_registry_pull_last_success_timestamp_seconds",
			Help:        "Unix time at which the last pull from the provincial system's search API was stored; 0 before the first.",
			ConstLabels: labels,
		}),
		dossiers: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "sohoa_registry_pulled_dossiers_total",
			Help:        "Dossiers of this ward handed to the registry by pulls (a dossier counts once per pull that returned it).",
			ConstLabels: labels,
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "sohoa_registry_pull_rejected_items_total",
			Help:        "Items of the search API's answers not taken into the registry, by reason (foreign: another agency's dossier; invalid: a missing or malformed field).",
			ConstLabels: labels,
		}, []string{"reason"}),
	}
	for _, r := range []string{ResultSuccess, ResultIncomplete, ResultFailure} {
		m.pulls.WithLabelValues(r)
	}
	m.rejected.WithLabelValues("foreign")
	m.rejected.WithLabelValues("invalid")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.pulls, m.lastSuccess, m.dossiers, m.rejected} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("search: metrics already registered (one puller per registry)")
			}
			return nil, err
		}
	}
	return m, nil
}
