package purge

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the dispatcher, by provider.
type metrics struct {
	sent, confirmed, failed *prometheus.CounterVec
	calls                   *prometheus.CounterVec
	tagsPerCall             *prometheus.HistogramVec
	latency                 *prometheus.HistogramVec
}

// Outcomes of one provider API call, the "outcome" label.
const (
	outcomeOK          = "ok"
	outcomeRetryAfter  = "retry_after"
	outcomeTemporary   = "temporary"
	outcomePermanent   = "permanent"
	outcomeInterrupted = "interrupted"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_purge_sent_total",
			Help: "Purges whose first API call to the provider was made.",
		}, []string{"provider"}),
		confirmed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_purge_confirmed_total",
			Help: "Purges the provider confirmed.",
		}, []string{"provider"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_purge_failed_total",
			Help: "Purges the provider refused for good (a permanent error; kept, listed, retryable).",
		}, []string{"provider"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_purge_api_calls_total",
			Help: "Provider purge API calls by outcome (ok, retry_after, temporary, permanent, interrupted).",
		}, []string{"provider", "outcome"}),
		tagsPerCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachegate_purge_tags_per_call",
			Help:    "Tags (surrogate keys) in one provider purge call.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 256, 500, 1000},
		}, []string{"provider"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachegate_purge_confirmation_seconds",
			Help:    "Time from enqueueing a purge to the provider's confirmation.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"provider"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.confirmed, m.failed, m.calls, m.tagsPerCall, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("purge: register metrics: %w", err)
		}
	}
	return m, nil
}
