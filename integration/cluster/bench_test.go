package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
)

// BenchmarkPublishToAppliedOnThreeNodes: PublishAndWait, one event at a
// time, through whole nodes: from the publish until L2 is invalidated,
// all three instances acked their L1 drop and the waiter was told. It
// reports p50 and p99 in milliseconds.
func BenchmarkPublishToAppliedOnThreeNodes(b *testing.B) {
	c := startCluster(b, clusterOptions{})
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1024)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := c.nodes[i%len(c.nodes)].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
}

// BenchmarkEventsThroughOneCoordinator: bursts of events published as
// fast as JetStream takes them, applied by the single coordinator of one
// node (L2 on Redis, its own L1, states and audit recorded). It reports
// events per second from the first publish until the coordinator's
// consumer has acked the whole burst.
func BenchmarkEventsThroughOneCoordinator(b *testing.B) {
	const burst = 5000
	c := startCluster(b, clusterOptions{nodes: 1})
	ctx := context.Background()
	nc, err := nats.Connect(c.nats.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*burst))
	if err != nil {
		b.Fatal(err)
	}
	names, err := events.Durables(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	var cons []jetstream.Consumer
	for _, name := range names {
		c, err := js.Consumer(ctx, events.StreamName, name)
		if err != nil {
			b.Fatal(err)
		}
		cons = append(cons, c)
	}
	var total int
	var elapsed time.Duration
	seq := 0
	for b.Loop() {
		start := time.Now()
		for range burst {
			m, err := events.Event{Tenant: fmt.Sprintf("t%d", seq%10), Type: "item.updated", Tags: []string{fmt.Sprintf("item-%d", seq)}}.Msg()
			seq++
			if err != nil {
				b.Fatal(err)
			}
			m.Header.Set(events.HeaderPublished, fmt.Sprint(time.Now().UnixNano()))
			if _, err := js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			b.Fatal("burst not stored within 30s")
		}
		for _, c := range cons {
			waitConsumed(b, c)
		}
		elapsed += time.Since(start)
		total += burst
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
}

// waitConsumed waits until the consumer has acked everything in its
// stream.
func waitConsumed(b *testing.B, cons jetstream.Consumer) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := cons.Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("consumer not drained: %d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
