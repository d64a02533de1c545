package purge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Backlog is what is waiting for the CDN: the durable queue (every
// instance's), the failed purges kept for retry, and, per provider, the
// purges this instance holds without an outcome and whether the provider
// is failing right now.
type Backlog struct {
	// Queued is the number of purges in the durable queue not yet
	// delivered to every provider, across instances.
	Queued uint64 `json:"queued"`
	// OldestSeconds is the age of the oldest of them; 0 when none.
	OldestSeconds float64 `json:"oldest_seconds"`
	// Failed is the number of purges a provider refused for good, kept
	// until retried or dismissed.
	Failed int `json:"failed"`
	// Providers is the backlog of this instance's dispatcher, by provider.
	Providers map[string]ProviderBacklog `json:"providers"`
}

// ProviderBacklog is one provider's share of the backlog on this instance.
type ProviderBacklog struct {
	// Pending is the number of purges dequeued here and not yet confirmed
	// or failed at the provider.
	Pending int `json:"pending"`
	// OldestSeconds is the age of the oldest of them (from its enqueue).
	OldestSeconds float64 `json:"oldest_seconds"`
	// Failing is true while the provider's last call failed with a
	// temporary error: its purges are being retried.
	Failing bool `json:"failing"`
	// FailingSince is when the current run of failed calls began.
	FailingSince time.Time `json:"failing_since,omitzero"`
	// LastError is the last call's error while failing (it names no
	// secret: providers keep tokens out of errors).
	LastError string `json:"last_error,omitempty"`
}

// Degraded says whether the backlog needs an operator's eye: a provider
// failing, or purges failed for good. The reason is for /readyz.
func (b Backlog) Degraded() (bool, string) {
	var failing []string
	for name, p := range b.Providers {
		if p.Failing {
			failing = append(failing, name)
		}
	}
	switch {
	case len(failing) > 0 && b.Failed > 0:
		return true, fmt.Sprintf("CDN provider %v failing, retrying; %d purges failed for good", failing, b.Failed)
	case len(failing) > 0:
		return true, fmt.Sprintf("CDN provider %v failing, retrying", failing)
	case b.Failed > 0:
		return true, fmt.Sprintf("%d purges failed for good (list and retry them)", b.Failed)
	}
	return false, ""
}

// health tracks whether a provider's calls are failing, per zone: zones
// are delivered side by side, and one zone's success says nothing of
// another's outage.
type health struct {
	mu    sync.Mutex
	zones map[string]failure
}

type failure struct {
	since   time.Time
	lastErr string
}

func (h *health) failing(zone string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.zones == nil {
		h.zones = map[string]failure{}
	}
	f := h.zones[zone]
	if f.since.IsZero() {
		f.since = time.Now().UTC()
	}
	f.lastErr = err.Error()
	h.zones[zone] = f
}

func (h *health) ok(zone string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.zones, zone)
}

// get returns the earliest start of the failures under way and the last
// error of that zone; a zero since when no zone is failing.
func (h *health) get() (since time.Time, lastErr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.zones {
		if since.IsZero() || f.since.Before(since) {
			since, lastErr = f.since, f.lastErr
		}
	}
	return since, lastErr
}

// local is the per-provider backlog of this dispatcher's in-flight jobs.
func (d *Dispatcher) local(now time.Time) map[string]ProviderBacklog {
	out := make(map[string]ProviderBacklog, len(d.workers))
	for name, w := range d.workers {
		pb := ProviderBacklog{}
		if since, e := w.health.get(); !since.IsZero() {
			pb.Failing, pb.FailingSince, pb.LastError = true, since, e
		}
		out[name] = pb
	}
	for _, j := range d.inflightJobs() {
		names := d.targetsOf(j)
		age := now.Sub(j.m.Enqueued).Seconds()
		j.mu.Lock()
		for _, n := range names {
			if _, done := j.outcomes[n]; done {
				continue
			}
			pb, ok := out[n]
			if !ok {
				continue
			}
			pb.Pending++
			pb.OldestSeconds = max(pb.OldestSeconds, age)
			out[n] = pb
		}
		j.mu.Unlock()
	}
	return out
}

// shared is the part of the backlog read from the server, kept for
// backlogTTL: load balancers poll /readyz and Prometheus scrapes, and each
// read costs a stream info and a key listing.
type shared struct {
	mu     sync.Mutex
	at     time.Time
	queued uint64
	first  time.Time
	failed int
}

const backlogTTL = time.Second

// Backlog reports the queue, the failed purges and this instance's
// per-provider backlog.
func (d *Dispatcher) Backlog(ctx context.Context) (Backlog, error) {
	now := time.Now()
	b := Backlog{Providers: d.local(now)}
	sh := &d.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.Sub(sh.at) >= backlogTTL {
		if err := d.readShared(ctx, sh); err != nil {
			return b, err
		}
		sh.at = now
	}
	// A work queue deletes what is acked: its first message is the oldest
	// purge not yet delivered everywhere.
	b.Queued, b.Failed = sh.queued, sh.failed
	if b.Queued > 0 && !sh.first.IsZero() {
		b.OldestSeconds = max(now.Sub(sh.first).Seconds(), 0)
	}
	return b, nil
}

func (d *Dispatcher) readShared(ctx context.Context, sh *shared) error {
	s, err := d.js.Stream(ctx, StreamName)
	if err != nil {
		return fmt.Errorf("purge: queue stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("purge: queue stream info: %w", err)
	}
	failed, err := d.states.FailedCount(ctx)
	if err != nil {
		return err
	}
	sh.queued, sh.first, sh.failed = info.State.Msgs, info.State.FirstTime, failed
	return nil
}

// FailedCount is the number of failed purges kept for retry.
func (s *States) FailedCount(ctx context.Context) (int, error) {
	lister, err := s.failed.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return 0, nil
		}
		return 0, fmt.Errorf("purge: count failures: %w", err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return n, nil
}

// backlogCollector serves the backlog as metrics at scrape time, so that
// the figures are never older than the scrape.
type backlogCollector struct {
	d                                  *Dispatcher
	pending, oldest, failing           *prometheus.Desc
	queued, queueOldest, failedForGood *prometheus.Desc
}

func newBacklogCollector(d *Dispatcher) *backlogCollector {
	provider := []string{"provider"}
	return &backlogCollector{
		d:             d,
		pending:       prometheus.NewDesc("cachegate_purge_backlog", "Purges this instance dequeued and a provider has not yet confirmed or failed.", provider, nil),
		oldest:        prometheus.NewDesc("cachegate_purge_backlog_oldest_seconds", "Age (from enqueue) of the oldest purge in cachegate_purge_backlog.", provider, nil),
		failing:       prometheus.NewDesc("cachegate_purge_provider_failing", "1 while the provider's last purge call failed with a temporary error (its purges are being retried).", provider, nil),
		queued:        prometheus.NewDesc("cachegate_purge_queue_messages", "Purges in the durable queue not yet delivered to every provider (all instances).", nil, nil),
		queueOldest:   prometheus.NewDesc("cachegate_purge_queue_oldest_seconds", "Age of the oldest purge in the durable queue.", nil, nil),
		failedForGood: prometheus.NewDesc("cachegate_purge_failed_current", "Purges a provider refused for good, kept until retried or dismissed.", nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.oldest, c.failing, c.queued, c.queueOldest, c.failedForGood} {
		ch <- d
	}
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.d.Backlog(ctx)
	for name, p := range b.Providers {
		failing := 0.0
		if p.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(p.Pending), name)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, p.OldestSeconds, name)
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing, name)
	}
	if err != nil {
		// The queue's figures are left out rather than reported as zero.
		c.d.log.Warn("purge backlog metrics", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(b.Queued))
	ch <- prometheus.MustNewConstMetric(c.queueOldest, prometheus.GaugeValue, b.OldestSeconds)
	ch <- prometheus.MustNewConstMetric(c.failedForGood, prometheus.GaugeValue, float64(b.Failed))
}
