package gateway

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/cachegate/cachegate/stats"
)

// Outcomes, the label values of cachegate_requests_total.
const (
	outcomeHitL1       = "hit_l1"
	outcomeHitL2       = "hit_l2"
	outcomeStaleHit    = "stale_hit"
	outcomeMiss        = "miss"
	outcomeCollapsed   = "collapsed"
	outcomeRevalidated = "revalidated"
	outcomeStaleError  = "stale_if_error"
	outcomeBypass      = "bypass"
	outcomeMethod      = "method"
	outcomeError       = "error"
)

// metrics are resolved once: the hit path increments a counter it already
// holds, with no label lookup.
type metrics struct {
	requests map[string]prometheus.Counter
	// l1Hits is requests[outcomeHitL1], for a count of several at once.
	l1Hits        prometheus.Counter
	originSeconds prometheus.Histogram
	rejectedTags  prometheus.Counter
	tagFallbacks  prometheus.Counter
	// waiting counts the requests waiting for another request's origin
	// fetch, in this instance or (through the fill lock) another.
	waiting prometheus.Gauge
	// refreshSkipped counts background refreshes not run because another
	// holder of the key's fill lock (another instance) was refreshing it.
	refreshSkipped prometheus.Counter
	// earlyRefreshes counts fresh hits that started an early refresh.
	earlyRefreshes prometheus.Counter
	// outcomes hold, per outcome, the client latency histogram and the
	// name an observation points at (no allocation per request).
	outcomes map[string]*outcomeSeries
	// hitL1 and hitL2 are outcomes[outcomeHitL1] and [outcomeHitL2]: a
	// hit counts its outcome without a map lookup.
	hitL1, hitL2 *outcomeSeries
	// statuses are by status class, in statusClasses' order then "other"
	// (statusIndex).
	statuses [len(statusClasses) + 1]prometheus.Counter
}

type outcomeSeries struct {
	name     string
	requests prometheus.Counter // requests[name]
	latency  prometheus.Observer
}

// outcomes are every label value of the outcome metrics, each series
// created at start so that rates and alerts have data from the first scrape.
func outcomes() []string {
	return []string{outcomeHitL1, outcomeHitL2, outcomeStaleHit, outcomeMiss, outcomeCollapsed,
		outcomeRevalidated, outcomeStaleError, outcomeBypass, outcomeMethod, outcomeError}
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cachegate_requests_total",
		Help: "Requests through the gateway by cache outcome.",
	}, []string{"cache_status"})
	m := &metrics{
		requests: map[string]prometheus.Counter{},
		originSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cachegate_origin_request_duration_seconds",
			Help:    "Time from sending an origin request to its response header.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		rejectedTags: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_origin_tags_rejected_total",
			Help: "Tags an origin named that were not kept (invalid, reserved or past the per-response cap).",
		}),
		tagFallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_origin_tag_fallbacks_total",
			Help: "Origin tags past the per-response cap, stored as their fallback bucket tag (purges of the tag reach it).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_coalesced_waiting",
			Help: "Requests waiting for another request's origin fetch, in this instance or another (fill lock).",
		}),
		earlyRefreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_early_refreshes_total",
			Help: "Fresh hits that started a background refresh before expiry (XFetch early refresh).",
		}),
		refreshSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_background_refresh_skipped_total",
			Help: "Background refreshes (stale-while-revalidate, soft invalidation, early refresh) left to another instance holding the key's fill lock.",
		}),
	}
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cachegate_request_duration_seconds",
		Help:    "Time from a client request's arrival to the end of its response, by cache outcome.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 3, 12),
	}, []string{"cache_status"})
	statuses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cachegate_responses_total",
		Help: "Responses the gateway sent its clients, by status class (2xx, 3xx, 4xx, 5xx).",
	}, []string{"code"})
	m.outcomes = map[string]*outcomeSeries{}
	for _, o := range outcomes() {
		m.requests[o] = vec.WithLabelValues(o)
		m.outcomes[o] = &outcomeSeries{name: o, requests: m.requests[o], latency: latency.WithLabelValues(o)}
	}
	for i := range m.statuses {
		m.statuses[i] = statuses.WithLabelValues(statusName(i))
	}
	m.l1Hits = m.requests[outcomeHitL1]
	m.hitL1, m.hitL2 = m.outcomes[outcomeHitL1], m.outcomes[outcomeHitL2]
	if reg != nil {
		for _, c := range []prometheus.Collector{vec, latency, statuses, m.originSeconds, m.rejectedTags, m.tagFallbacks, m.waiting, m.refreshSkipped, m.earlyRefreshes} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// count records the request's cache outcome in the counter and, for the
// client latency and the access log, in its observation (nil: none, as for
// background revalidations).
func (m *metrics) count(obs *observation, outcome string) {
	m.countSeries(obs, m.outcomes[outcome])
}

// countSeries is count of the outcome whose series is o.
func (m *metrics) countSeries(obs *observation, o *outcomeSeries) {
	o.requests.Inc()
	if obs != nil {
		obs.outcome.Store(o)
	}
}

// hit is the series of a hit on layer: hit_l2 for L2, hit_l1 otherwise.
func (m *metrics) hit(layer string) *outcomeSeries {
	if layer == stats.L2 {
		return m.hitL2
	}
	return m.hitL1
}

// observe records a finished client request.
func (m *metrics) observe(o *outcomeSeries, status int, elapsed time.Duration) {
	o.latency.Observe(elapsed.Seconds())
	m.statuses[statusIndex(status)].Inc()
}

// layerWarnings logs a failing layer at most once per interval per layer
// and operation kind: a Redis outage under load must not flood the log.
type layerWarnings struct {
	log   *slog.Logger
	every map[string]*rate.Sometimes
}

func (w *layerWarnings) init(log *slog.Logger) {
	w.log = log
	w.every = map[string]*rate.Sometimes{}
	for _, l := range []string{"l1", "l2", "lock"} {
		w.every[l] = &rate.Sometimes{First: 1, Interval: 10 * time.Second}
	}
}

func (w *layerWarnings) layer(layer, op string, err error) {
	s := w.every[layer]
	if s == nil {
		return
	}
	s.Do(func() {
		w.log.Warn("cache layer failing; serving without it", "layer", layer, "op", op,
			"unavailable", errors.Is(err, ErrUnavailable), "err", err)
	})
}

// registerAdmission exports the L2 admission decisions as
// cachegate_l2_admission_total{decision}.
func (g *Gateway) registerAdmission(reg prometheus.Registerer) error {
	if g.admit == nil {
		return nil
	}
	return registerCounts(reg, "cachegate_l2_admission_total",
		"Fills written to L2 (admitted) and not (rejected: a key not asked for before, under l2.admission: frequent).",
		"decision", map[string]*atomic.Uint64{"admitted": &g.admitted, "rejected": &g.rejected})
}

// registerCounts exports atomic counters as one counter name with a label
// per counter; nil reg registers nothing.
func registerCounts(reg prometheus.Registerer, name, help, label string, counts map[string]*atomic.Uint64) error {
	if reg == nil {
		return nil
	}
	for value, v := range counts {
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: name, Help: help, ConstLabels: prometheus.Labels{label: value},
		}, func() float64 { return float64(v.Load()) }))
		if err != nil {
			return err
		}
	}
	return nil
}
