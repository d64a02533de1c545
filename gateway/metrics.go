package gateway

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
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

func hitOutcome(layer string) string {
	if layer == "l2" {
		return outcomeHitL2
	}
	return outcomeHitL1
}

// metrics are resolved once: the hit path increments a counter it already
// holds, with no label lookup.
type metrics struct {
	requests      map[string]prometheus.Counter
	originSeconds prometheus.Histogram
	rejectedTags  prometheus.Counter
	tagFallbacks  prometheus.Counter
	// waiting counts the requests waiting for another request's origin
	// fetch, in this instance or (through the fill lock) another.
	waiting prometheus.Gauge
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
	}
	for _, o := range []string{outcomeHitL1, outcomeHitL2, outcomeStaleHit, outcomeMiss, outcomeCollapsed,
		outcomeRevalidated, outcomeStaleError, outcomeBypass, outcomeMethod, outcomeError} {
		m.requests[o] = vec.WithLabelValues(o)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{vec, m.originSeconds, m.rejectedTags, m.tagFallbacks, m.waiting} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) count(outcome string) { m.requests[outcome].Inc() }

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
