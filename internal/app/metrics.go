package app

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lanyard/lanyard/internal/relation"
)

// metrics are the process-wide measurements beyond HTTP requests (httpapi has those)
// and throttling (throttle has those).
type metrics struct {
	reg       prometheus.Registerer
	hashTook  prometheus.Histogram
	hashWait  prometheus.Histogram
	storeErrs *prometheus.CounterVec
	foreign   *prometheus.CounterVec
	// warned holds the collections whose first foreign document was logged.
	warned sync.Map
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reg: reg,
		hashTook: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanyard_password_hash_seconds",
			Help:    "Time spent computing one password hash or verification.",
			Buckets: []float64{.005, .01, .02, .03, .05, .075, .1, .2, .5, 1},
		}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lanyard_password_hash_wait_seconds",
			Help:    "Time a password hash waited for a free slot (LANYARD_HASH_CONCURRENCY).",
			Buckets: []float64{.0001, .001, .005, .01, .05, .1, .25, .5, 1, 2},
		}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_store_errors_total",
			Help: "Store operations that failed (unreachable, timed out, or unexpected), by operation.",
		}, []string{"op"}),
		foreign: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lanyard_foreign_documents_total",
			Help: "Documents of Lanyard's collections that are not Lanyard's (they do not decode), skipped where they were read, by collection.",
		}, []string{"collection"}),
	}
	reg.MustRegister(m.hashTook, m.hashWait, m.storeErrs, m.foreign)
	return m
}

func (m *metrics) observeHash(wait, took time.Duration) {
	m.hashWait.Observe(wait.Seconds())
	m.hashTook.Observe(took.Seconds())
}

func (m *metrics) storeError(op string) { m.storeErrs.WithLabelValues(op).Inc() }

// foreignDocument counts a skipped document that is not Lanyard's, and warns of the
// first one of each collection (the collection only: the document may hold anything
// of the application's).
func (m *metrics) foreignDocument(log *slog.Logger, coll string) {
	m.foreign.WithLabelValues(coll).Inc()
	if _, seen := m.warned.LoadOrStore(coll, true); !seen && log != nil {
		log.Warn("skipped a document that is not Lanyard's in one of its collections; further ones are counted in lanyard_foreign_documents_total (LANYARD_COLLECTION_PREFIX keeps the application's collections apart)", "collection", coll)
	}
}

// watchDeletions exports the deleter's own counters.
func (m *metrics) watchDeletions(d *relation.Deleter) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanyard_deletion_jobs_running",
			Help: "Chain deletes running in this process.",
		}, func() float64 { return float64(d.Running()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lanyard_deletion_jobs_resumed_total",
			Help: "Interrupted chain deletes this process took over and resumed.",
		}, func() float64 { return float64(d.Resumed()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lanyard_deletion_batches_total",
			Help: "Batches of documents erased or detached by chain deletes.",
		}, func() float64 { return float64(d.Batches()) }),
	)
}
