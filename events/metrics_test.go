package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The coordinator's metrics move on the injected registry.
func TestCoordinatorMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.instance("i1", 200*time.Millisecond)
	reg := prometheus.NewRegistry()
	c := e.coordinator(events.CoordinatorConfig{Registerer: reg, LagInterval: 50 * time.Millisecond})
	waitLive(t, c, "i1")
	p := e.publisher()
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "a")); err != nil {
		t.Fatal(err)
	}
	_, js := e.connect()
	if _, err := js.Publish(ctx, "cachegate.events.acme._", []byte("nope")); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"cachegate_events_received_total":               2,
		"cachegate_events_processed_total":              1,
		"cachegate_events_dead_lettered_total":          1,
		"cachegate_events_l1_acks_total":                1,
		"cachegate_events_live_instances":               1,
		"cachegate_events_invalidation_latency_seconds": 1, // sample count
		"cachegate_events_consumer_pending":             0,
		"cachegate_events_batch_size":                   2, // sample count
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		mfs, err := reg.Gather()
		if err != nil {
			return err
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				got[mf.GetName()] += value(m)
			}
		}
		for name, v := range want {
			if got[name] != v {
				return fmt.Errorf("%s = %v, want %v (all: %v)", name, got[name], v, got)
			}
		}
		return nil
	})
	// A second coordinator on the same registry is refused, not silently
	// unmeasured.
	if _, err := events.NewCoordinator(e.js, events.CoordinatorConfig{Registerer: reg}); err == nil {
		t.Error("duplicate registration accepted")
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
