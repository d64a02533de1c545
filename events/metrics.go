package events

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// coordinatorMetrics are the coordinator's Prometheus metrics. They exist
// (and are updated) even with no Registerer, which keeps the code free of
// nil checks.
type coordinatorMetrics struct {
	received     prometheus.Counter
	processed    prometheus.Counter
	failed       *prometheus.CounterVec // by stage
	deadLettered *prometheus.CounterVec // by cause
	pending      prometheus.Gauge
	ackPending   prometheus.Gauge
	latency      prometheus.Histogram
	batchSize    prometheus.Histogram
	l1Acks       *prometheus.CounterVec // by result
	liveInst     prometheus.Gauge
	oldest       prometheus.Gauge
	l2Pending    prometheus.Gauge
	// By source region (Regions.Sources).
	sourceLag    *prometheus.GaugeVec
	sourceActive *prometheus.GaugeVec
}

func newCoordinatorMetrics(reg prometheus.Registerer) (*coordinatorMetrics, error) {
	m := &coordinatorMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_events_received_total", Help: "Event deliveries taken from the stream by this coordinator (redeliveries included).",
		}),
		processed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_events_processed_total", Help: "Events applied (L2, every live L1, purge queued) and acked.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_events_failed_total", Help: "Failed attempts to apply an event, by stage; they are retried with backoff.",
		}, []string{"stage"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_events_dead_lettered_total", Help: "Events moved to the dead-letter stream, by cause.",
		}, []string{"cause"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_events_consumer_pending", Help: "Events in the stream not yet delivered to the coordinator (sampled).",
		}),
		ackPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_events_consumer_ack_pending", Help: "Events delivered but not yet acked (sampled).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cachegate_events_invalidation_latency_seconds",
			Help:    "From publish to applied on L2 and every live instance's L1.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cachegate_events_batch_size", Help: "Events processed together in one batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		l1Acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_events_l1_acks_total", Help: "L1 broadcast acknowledgements by result (ok, error, unknown instance, timeout).",
		}, []string{"result"}),
		liveInst: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_events_live_instances", Help: "Gateway instances whose L1 acknowledgement the coordinator awaits.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_events_backlog_oldest_seconds", Help: "Age of the oldest event not yet applied (sampled); 0 when none waits.",
		}),
		l2Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cachegate_events_l2_pending", Help: "Invalidations L2 has not recorded yet (it was unreachable); instances treat their tags' older L2 entries as misses (sampled).",
		}),
		sourceLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cachegate_events_region_source_lag", Help: "Events of another region's stream not yet sourced into this region's, as last reported while in contact (sampled).",
		}, []string{"region"}),
		sourceActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cachegate_events_region_source_active_seconds", Help: "Time since this region's stream last heard from another region's (about 1 s while the link is up; it grows while the link is down); -1 if never (sampled).",
		}, []string{"region"}),
	}
	// Every result exists from the start, so that an alert on timeouts
	// has a series to compare before the first one.
	for _, r := range []string{"ok", "error", "unknown", "timeout", "late"} {
		m.l1Acks.WithLabelValues(r)
	}
	err := register(reg, m.received, m.processed, m.failed, m.deadLettered, m.pending, m.ackPending,
		m.latency, m.batchSize, m.l1Acks, m.liveInst, m.oldest, m.l2Pending, m.sourceLag, m.sourceActive)
	return m, err
}

// instanceMetrics are one instance's.
type instanceMetrics struct {
	invalidations prometheus.Counter
	drops         *prometheus.CounterVec
}

func newInstanceMetrics(reg prometheus.Registerer) (*instanceMetrics, error) {
	m := &instanceMetrics{
		invalidations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_events_l1_invalidations_total", Help: "L1 invalidations this instance applied from broadcasts.",
		}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_events_l1_drops_total", Help: "Whole-L1 drops by reason (disconnect, reconnect, invalidation error).",
		}, []string{"reason"}),
	}
	return m, register(reg, m.invalidations, m.drops)
}

func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("events: register metrics: %w", err)
	}
	return nil
}
