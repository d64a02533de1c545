package events_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// benchSetup is a coordinator with L2 and a purge queue (in memory) and
// three instances, each on its own connection, on loopback.
func benchSetup(b *testing.B, auditor func(*env) events.Auditor) (*env, *memQueue, *prometheus.Registry) {
	e := newEnv(b)
	ids := []string{"i1", "i2", "i3"}
	for _, id := range ids {
		e.instance(id, time.Second)
	}
	q := newMemQueue()
	reg := prometheus.NewRegistry()
	var au events.Auditor = &memAudit{}
	if auditor != nil {
		au = auditor(e)
	}
	c := e.coordinator(events.CoordinatorConfig{Shared: newFakeShared(), Queue: q, States: &memStates{}, Audit: au, Registerer: reg})
	waitLive(b, c, ids...)
	return e, q, reg
}

// reportBatch reports the mean batch size the coordinator saw.
func reportBatch(b *testing.B, reg *prometheus.Registry) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cachegate_events_batch_size" {
			h := mf.GetMetric()[0].GetHistogram()
			b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "events/batch")
		}
	}
}

// BenchmarkPublishToAppliedLatency: PublishAndWait, one at a time, from
// publish until L2 and all three instances' L1 applied it and the waiter
// was told.
func BenchmarkPublishToAppliedLatency(b *testing.B) {
	e, _, _ := benchSetup(b, nil)
	p := e.publisher()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := p.PublishAndWait(ctx, companyEvent("acme", fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(pct(1), "max_ms")
}

// BenchmarkCoordinatorThroughput: b.N events published asynchronously
// (four tenants), timed until the coordinator applied every one (L2, three
// L1s, purge queued, acked).
func BenchmarkCoordinatorThroughput(b *testing.B) {
	b.Run("audit=memory", func(b *testing.B) { benchThroughput(b, nil) })
	// The real audit log: one JetStream publish per event.
	b.Run("audit=jetstream", func(b *testing.B) {
		benchThroughput(b, func(e *env) events.Auditor {
			l, err := audit.Open(context.Background(), e.js, audit.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return l
		})
	})
}

func benchThroughput(b *testing.B, auditor func(*env) events.Auditor) {
	e, q, reg := benchSetup(b, auditor)
	_, js := e.connect()
	ctx := context.Background()
	msgs := make([]*nats.Msg, b.N)
	ids := make([]string, b.N)
	for i := range b.N {
		m, err := companyEvent(fmt.Sprintf("t%d", i%4), fmt.Sprint(i)).Msg()
		if err != nil {
			b.Fatal(err)
		}
		msgs[i], ids[i] = m, m.Header.Get(nats.MsgIdHdr)
	}
	b.ResetTimer()
	start := time.Now()
	for i, m := range msgs {
		m.Header.Set(events.HeaderPublished, fmt.Sprint(time.Now().UnixNano()))
		if _, err := js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	if err := testenv.Poll(60*time.Second, func() error {
		if n := q.distinct(); n < b.N {
			return fmt.Errorf("%d of %d applied", n, b.N)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	reportBatch(b, reg)
}
