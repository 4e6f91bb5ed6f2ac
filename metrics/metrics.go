// Package metrics exposes sohoa's state to Prometheus: the counters and the
// upload queue read from the store at scrape time (so they survive restarts),
// the upload durations this process has seen, build and ward information, and
// the Go and process collectors. Handler serves /metrics, /healthz and /readyz
// on a ServeMux of its own.
package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/upload"
)

// StatsSource gives a consistent snapshot of the durable counters and the
// upload queue, and when the longest-waiting unlinked scan was recorded
// (the zero time if none waits). *store.Store implements it. Each method is
// called once per scrape, possibly from several goroutines at once.
type StatsSource interface {
	Stats() (store.Stats, error)
	UnlinkedSince() (time.Time, error)
}

// Build describes the running binary: the labels of sohoa_build_info, those
// prometheus/common/version gives an exporter's build_info (goversion, goos
// and goarch are the runtime's). An empty field is "unknown".
type Build struct {
	Version, Revision, Branch string
	Tags                      string // the -tags it was built with
}

// Config is what New needs.
type Config struct {
	// Ward is this unit's agency code (e.g. "000.00.12.H57"), the value of
	// the ward label on every sohoa_ metric. Required.
	Ward string
	// WardName is the unit's name (e.g. "Phường Hương Văn"), shown only on
	// sohoa_ward_info. May be empty.
	WardName string
	// Build labels sohoa_build_info.
	Build Build
	// Source is read at every scrape. Required.
	Source StatsSource
	// QueueMaxBytes is the cap of the upload queue, shown as
	// sohoa_upload_queue_max_bytes; 0: not shown.
	QueueMaxBytes int64
	// Registerer receives all collectors. nil: a new registry. When set, it
	// must also be a prometheus.Gatherer (a *prometheus.Registry is), which
	// Handler serves.
	Registerer prometheus.Registerer
	// Logger reports failed reads of Source and errors serving /metrics.
	// nil: discard.
	Logger *slog.Logger
	// Registry, when set, is read at every scrape for the received-dossier
	// metrics: sohoa_dossiers_received_total and the month cohorts
	// sohoa_month_dossiers_{received,digitized}{month="current|previous"}.
	// nil: those metrics are not shown.
	Registry RegistrySource
	// Now is the clock that decides the current month; nil: time.Now.
	Now func() time.Time
}

// Metrics holds sohoa's collectors. Its methods are safe for concurrent use.
type Metrics struct {
	gatherer prometheus.Gatherer
	ward     string
	wardName string
	version  string

	uploadSuccess prometheus.Observer
	uploadFailure prometheus.Observer
	staffFolders  prometheus.Counter

	metrics http.Handler // /metrics, built once: it registers its own error counter
}

// Outcome label values of sohoa_upload_duration_seconds.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// uploadBuckets spans a small file on a LAN share (10 ms) to a large file on
// a slow provincial link (5 min).
var uploadBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// New builds sohoa's metrics and registers them: a collector that reads
// cfg.Source at scrape time, the live upload duration histogram, build and
// ward info, and the Go and process collectors (already registered Go and
// process collectors are accepted as they are). On error nothing stays
// registered.
func New(cfg Config) (*Metrics, error) {
	if cfg.Ward == "" {
		return nil, errors.New("metrics: ward code is required")
	}
	if cfg.Source == nil {
		return nil, errors.New("metrics: stats source is required")
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	gatherer, ok := reg.(prometheus.Gatherer)
	if !ok {
		return nil, fmt.Errorf("metrics: registerer %T cannot be gathered; pass a *prometheus.Registry", reg)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ward := prometheus.Labels{"ward": cfg.Ward}

	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sohoa_upload_duration_seconds",
		Help: "Time taken by upload attempts since this process started, by outcome " +
			"(success: the sink confirmed the file; failure: it will be retried).",
		Buckets:     uploadBuckets,
		ConstLabels: ward,
	}, []string{"outcome"})
	staffFolders := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sohoa_staff_folders_replaced_total",
		Help: "Staff folders found not to be real folders of the expected owner (a link, a file) since this " +
			"process started: each was renamed aside and a real folder made.",
		ConstLabels: ward,
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sohoa_build_info",
		Help: "The sohoa build running here, in its labels; always 1.",
		ConstLabels: prometheus.Labels{
			"version":   orUnknown(cfg.Build.Version),
			"revision":  orUnknown(cfg.Build.Revision),
			"branch":    orUnknown(cfg.Build.Branch),
			"tags":      orUnknown(cfg.Build.Tags),
			"goversion": runtime.Version(),
			"goos":      runtime.GOOS,
			"goarch":    runtime.GOARCH,
			"ward":      cfg.Ward,
		},
	})
	buildInfo.Set(1)
	wardInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sohoa_ward_info",
		Help:        "The ward this sohoa serves: ward is its agency code, name its name; always 1.",
		ConstLabels: prometheus.Labels{"ward": cfg.Ward, "name": cfg.WardName},
	})
	wardInfo.Set(1)

	m := &Metrics{
		gatherer:      gatherer,
		ward:          cfg.Ward,
		wardName:      cfg.WardName,
		version:       orUnknown(cfg.Build.Version),
		uploadSuccess: durations.WithLabelValues(outcomeSuccess),
		uploadFailure: durations.WithLabelValues(outcomeFailure),
		staffFolders:  staffFolders,
	}

	stats := newStatsCollector(cfg.Source, ward, log)
	required := []prometheus.Collector{stats, durations, staffFolders, buildInfo, wardInfo}
	if cfg.Registry != nil {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		required = append(required, newCohortCollector(cfg.Registry, cfg.Ward, cfg.WardName, now, stats.errs, log))
	}
	if cfg.QueueMaxBytes > 0 {
		queueMax := prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sohoa_upload_queue_max_bytes",
			Help: "The cap of sohoa_upload_queue_bytes (parked uploads included): at it, new scans wait in the " +
				"scanner folder until uploads make room (upload.queue_max_bytes).",
			ConstLabels: ward,
		})
		queueMax.Set(float64(cfg.QueueMaxBytes))
		required = append(required, queueMax)
	}
	shared := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	var done []prometheus.Collector
	undo := func() {
		for _, c := range done {
			reg.Unregister(c)
		}
	}
	for _, c := range required {
		if err := reg.Register(c); err != nil {
			undo()
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
		done = append(done, c)
	}
	for _, c := range shared {
		if err := reg.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
				continue
			}
			undo()
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
		done = append(done, c)
	}

	m.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: promLogger{log},
		// A collector that fails (say the process collector on an odd
		// kernel) must not hide the others: serve what was gathered, log
		// the error and count it in promhttp_metric_handler_errors_total.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
	return m, nil
}

// Gatherer returns what Handler serves at /metrics.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.gatherer }

// ObserveUpload records one delivery attempt in sohoa_upload_duration_seconds;
// it fits upload.Worker.Observe. Counts of uploads, bytes and failures are not
// kept here: they come from the store, which keeps them across restarts.
func (m *Metrics) ObserveUpload(a upload.Attempt) {
	o := m.uploadSuccess
	if a.Kind != "" {
		o = m.uploadFailure
	}
	o.Observe(max(a.Duration.Seconds(), 0)) // a clock step must not make it negative
}

// StaffFolderReplaced counts a staff folder that was not a real folder and
// was moved aside; it fits ingest.Config.StaffFolderReplaced.
func (m *Metrics) StaffFolderReplaced(string) { m.staffFolders.Inc() }

// Handler serves, on a ServeMux of its own:
//
//	/metrics  the Prometheus exposition (text format, or protobuf when asked)
//	/healthz  200 "ok" while the process serves HTTP
//	/readyz   200 "ready" when ready returns nil, else 503 with its error text
//	/         a short plain-text index
//
// Any other path is 404. A nil ready means always ready. Handler may be
// called more than once; the handlers share the same metrics.
func (m *Metrics) Handler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		plain(w, http.StatusOK, "ready\n")
	})
	index := fmt.Sprintf("sohoa %s, ward %s %s\n\n"+
		"/metrics  Prometheus metrics\n"+
		"/healthz  200 while the process runs\n"+
		"/readyz   200 when ready to ingest, 503 with the reason otherwise\n",
		m.version, m.ward, m.wardName)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, index)
	})
	return mux
}

func plain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// promLogger writes promhttp's errors to slog, on one line.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	msg := strings.TrimSuffix(fmt.Sprintln(v...), "\n")
	l.log.Error("serving metrics", "err", strings.ReplaceAll(msg, "\n", "; "))
}

// statsCollector turns a store.Stats snapshot into const metrics at every
// scrape. It also owns sohoa_stats_errors_total, so that a failed read is
// counted in the same scrape that lacks the store-backed metrics.
type statsCollector struct {
	source StatsSource
	log    *slog.Logger
	errs   prometheus.Counter

	digitized, scans, rejected, duplicates, unlinked, abandoned *prometheus.Desc
	unlinkedOldest                                              *prometheus.Desc
	queueLength, queueBytes, queueOldest                        *prometheus.Desc
	uploads, uploadBytes, failures, lastSuccess                 *prometheus.Desc
	retries, parked, parkedBytes                                *prometheus.Desc
	spoolRecovered                                              *prometheus.Desc
}

func newStatsCollector(src StatsSource, ward prometheus.Labels, log *slog.Logger) *statsCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, ward)
	}
	return &statsCollector{
		source: src,
		log:    log,
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sohoa_stats_errors_total",
			Help: "Scrapes in which sohoa could not read its database; those scrapes lack the " +
				"database-backed sohoa_ metrics. The log says why.",
			ConstLabels: ward,
		}),
		digitized: desc("sohoa_dossiers_digitized_total",
			"Dossiers with at least one scan confirmed uploaded by the sink."),
		scans: desc("sohoa_scans_total",
			"Files taken in from the scanner folder, each content once, whatever became of them "+
				"(rejected ones included); repeats of a known content count in sohoa_scans_duplicate_total instead."),
		rejected: desc("sohoa_scans_rejected_total",
			"Scans that cannot be uploaded as they are, by reason; staff find them in the errors folder "+
				"with an explanation in Vietnamese.",
			"reason"),
		duplicates: desc("sohoa_scans_duplicate_total",
			"Files whose content had already been recorded; they are neither recorded nor uploaded again."),
		unlinked: desc("sohoa_scans_unlinked",
			"Valid scans waiting for a person to give them one dossier code of this ward "+
				"(no code, several codes, or another unit's code in the name), whose file is still in the inbox."),
		unlinkedOldest: desc("sohoa_scans_unlinked_oldest_timestamp_seconds",
			"Unix time at which the scan that has waited longest for a dossier code (of those in "+
				"sohoa_scans_unlinked) was recorded; 0 when none waits."),
		abandoned: desc("sohoa_scans_abandoned",
			"Valid scans that waited for a dossier code and whose file staff removed from the inbox without one "+
				"(deleted, or moved out); never uploaded. A file put back waits again."),
		queueLength: desc("sohoa_upload_queue_length",
			"Uploads waiting for the sink (one per scan and dossier), including those waiting to retry."),
		queueBytes: desc("sohoa_upload_queue_bytes",
			"Total size of the files waiting in the upload queue."),
		queueOldest: desc("sohoa_upload_queue_oldest_timestamp_seconds",
			"Unix time at which the oldest upload still waiting was queued; 0 when the queue is empty."),
		uploads: desc("sohoa_uploads_total",
			"Uploads confirmed by the sink, one per scan and dossier."),
		uploadBytes: desc("sohoa_upload_bytes_total",
			"Bytes of the uploads confirmed by the sink."),
		failures: desc("sohoa_upload_failures_total",
			"Failed upload attempts by kind of failure; the upload stays queued and is retried with backoff.",
			"kind"),
		lastSuccess: desc("sohoa_last_upload_success_timestamp_seconds",
			"Unix time of the last upload confirmed by the sink; 0 if none ever was."),
		retries: desc("sohoa_upload_retries_total",
			"Failed upload attempts that stayed queued for another try (network, timeout, 408, 429, 5xx, auth...)."),
		parked: desc("sohoa_upload_parked",
			"Uploads the provincial system refused for good (an HTTP 4xx other than 401, 403, 408, 429); "+
				"they wait, never dropped, until IT fixes the cause and requeues them. The log says why."),
		parkedBytes: desc("sohoa_upload_parked_bytes",
			"Total size of the parked uploads."),
		spoolRecovered: desc("sohoa_spool_recovered_total",
			"Files found in the data dir's spool at start with no record (the database was lost or replaced), "+
				"given back to the inbox to be taken again rather than deleted."),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.digitized, c.scans, c.rejected, c.duplicates, c.unlinked, c.unlinkedOldest,
		c.abandoned, c.queueLength, c.queueBytes, c.queueOldest, c.uploads, c.uploadBytes, c.failures, c.lastSuccess,
		c.retries, c.parked, c.parkedBytes, c.spoolRecovered} {
		ch <- d
	}
	c.errs.Describe(ch)
}

// Collect reads the source once. When the read fails it logs, counts, and
// emits none of the store-backed metrics: Prometheus then marks their series
// stale instead of showing old numbers as current, and the rest of the scrape
// (sohoa_stats_errors_total above all) still arrives.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errs.Collect(ch)
	st, err := c.source.Stats()
	var since time.Time
	if err == nil {
		since, err = c.source.UnlinkedSince()
	}
	if err != nil {
		c.errs.Inc()
		c.log.Error("cannot read stats from the database; database-backed metrics left out of this scrape",
			"err", err)
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.digitized, st.DossiersDigitized)
	counter(c.scans, st.Scans)
	counter(c.duplicates, st.Duplicates)
	gauge(c.unlinked, float64(st.Unlinked))
	gauge(c.unlinkedOldest, unixSeconds(since))
	gauge(c.abandoned, float64(st.Abandoned))
	for _, code := range withKnown(st.Rejected, reason.Rejections) {
		c.labelled(ch, c.rejected, st.Rejected[code], string(code))
	}
	gauge(c.queueLength, float64(st.QueueLength))
	gauge(c.queueBytes, float64(st.QueueBytes))
	gauge(c.queueOldest, unixSeconds(st.QueueOldest))
	counter(c.uploads, st.Uploads)
	counter(c.uploadBytes, st.UploadBytes)
	for _, kind := range withKnown(st.UploadFailures, upload.Kinds) {
		c.labelled(ch, c.failures, st.UploadFailures[kind], kind)
	}
	gauge(c.lastSuccess, unixSeconds(st.LastUploadSuccess))
	counter(c.retries, st.UploadRetries)
	gauge(c.parked, float64(st.Parked))
	gauge(c.parkedBytes, float64(st.ParkedBytes))
	counter(c.spoolRecovered, st.SpoolRecovered)
}

// labelled emits a counter whose label value came from the database. A value
// Prometheus cannot carry (not UTF-8) is logged and left out rather than
// failing the scrape.
func (c *statsCollector) labelled(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, label string) {
	m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, float64(v), label)
	if err != nil {
		c.log.Error("metric left out of this scrape", "desc", d.String(), "label", label, "err", err)
		return
	}
	ch <- m
}

// withKnown returns the known label values in their order, so that each is
// present even at zero, then any other key of counts (a value recorded by
// another version of sohoa, say) in sorted order.
func withKnown[K ~string](counts map[K]uint64, known []K) []K {
	out := slices.Clone(known)
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	return out
}

// unixSeconds is t as Unix seconds, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
