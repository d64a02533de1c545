package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

// itemEvent is event i of a stream: one tag of its own, so that the CDN
// fake's calls say which events were purged.
func itemEvent(i int) events.Event {
	return events.Event{Tenant: "acme", Type: "item.updated", Tags: []string{fmt.Sprintf("item-%d", i)}}
}

// TestCoordinatorStoppedMidStream: events flow while one node (its
// coordinator among them) is stopped and a new node started. Every event
// is applied (l1 and l2 "applied" in the admin API's state) and the CDN
// purge queue stored exactly one message per event id, however often the
// coordinators processed it.
func TestCoordinatorStoppedMidStream(t *testing.T) {
	fake := cloudflarefake.New(cdnToken)
	t.Cleanup(fake.Close)
	c := startCluster(t, clusterOptions{cloudflare: fake.URL()})

	const total, stopAt, startAt = 90, 30, 60
	ids := make([]string, 0, total)
	var replacement *nodetest.Node
	ctx := context.Background()
	for i := range total {
		switch i {
		case stopAt:
			c.nodes[1].Stop()
		case startAt:
			replacement = c.startNode()
		}
		id, err := c.nodes[0].Publisher().Publish(ctx, itemEvent(i))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	waitApplied(t, replacement, ids, purge.TargetL1, purge.TargetL2)

	// Dedupe by id: the queue stored each event once.
	info := streamInfo(t, c, purge.StreamName)
	if info.State.LastSeq != uint64(total) {
		t.Errorf("purge queue %s stored %d messages, want one per event: %d", purge.StreamName, info.State.LastSeq, total)
	}
	assertDrained(t, c)
}

// TestNATSRestartLosesNoAcknowledgedEvent: events are published while the
// NATS server restarts; every event whose Publish returned nil is applied
// afterwards.
func TestNATSRestartLosesNoAcknowledgedEvent(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	const before, after = 30, 30

	// Event i invalidates page /?item=i, which is cached before it is
	// published: once the event is applied, the page is fetched anew.
	type published struct {
		id       string
		target   string
		rendered int
	}
	var (
		mu       sync.Mutex
		acked    []published
		failures int
		stop     = make(chan struct{})
		done     = make(chan struct{})
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := c.nodes[i%len(c.nodes)]
			target := fmt.Sprintf("/?item=%d", i)
			p, err := get(context.Background(), n.URL, "acme", target)
			if err != nil || p.status != 200 || !p.miss() {
				t.Errorf("warm %s: %v, status %d, Cache-Status %q", target, err, p.status, p.cacheStatus)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ev := events.Event{Tenant: "acme", Type: "item.updated", Tags: []string{invalidation.URLTag(target)}}
			id, err := n.Publisher().Publish(ctx, ev)
			cancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, published{id, target, p.rendered})
			} else {
				failures++
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond) // reconnecting: no busy loop
			}
		}
	}()
	testenv.WaitFor(t, 20*time.Second, func() error {
		if n := count(); n < before {
			return fmt.Errorf("%d events acknowledged", n)
		}
		return nil
	})
	c.nats.Restart()
	restartedAt := count()
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := count(); n < restartedAt+after {
			return fmt.Errorf("%d events acknowledged since the restart", n-restartedAt)
		}
		return nil
	})
	close(stop)
	<-done
	t.Logf("%d events acknowledged (%d before the restart), %d publishes failed while NATS was away", len(acked), restartedAt, failures)
	// Applied: no node serves a page from before its event any more.
	for _, a := range acked {
		testenv.WaitFor(t, 20*time.Second, func() error {
			for i, n := range c.nodes {
				p := mustGet(t, n.URL, "acme", a.target)
				if p.rendered <= a.rendered {
					return fmt.Errorf("node %d serves %s rendered %d (%q), from before event %s", i, a.target, p.rendered, p.cacheStatus, a.id)
				}
			}
			return nil
		})
	}
}

// waitApplied waits until every id's state, read through n's admin API,
// is applied (l1, l2) or confirmed (a CDN provider) at every target.
func waitApplied(t testing.TB, n *nodetest.Node, ids []string, targets ...string) {
	t.Helper()
	pending := append([]string(nil), ids...)
	testenv.WaitFor(t, 30*time.Second, func() error {
		for len(pending) > 0 {
			id := pending[0]
			st, err := getPurgeState(context.Background(), n, id)
			if err != nil {
				return err
			}
			for _, target := range targets {
				want := "applied"
				if target != purge.TargetL1 && target != purge.TargetL2 {
					want = "confirmed"
				}
				if got := st.Targets[target]; got.Status != want {
					return fmt.Errorf("event %s (%d of %d left): %s is %+v, want %s", id, len(pending), len(ids), target, got, want)
				}
			}
			pending = pending[1:]
		}
		return nil
	})
}

// streamInfo reads a JetStream stream's info.
func streamInfo(t testing.TB, c *cluster, name string) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.jetStream().Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return info
}

// eventsDrained is drained for every coordinator consumer (one per
// partition, and the unpartitioned one).
func eventsDrained(c *cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := events.Durables(ctx, c.jetStream())
	if err != nil {
		return err
	}
	for _, d := range names {
		if err := drained(c, events.StreamName, d); err != nil {
			return err
		}
	}
	return nil
}

// drained reports an error while a consumer has messages pending or
// delivered and unacked.
func drained(c *cluster, stream, durable string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cons, err := c.jetStream().Consumer(ctx, stream, durable)
	if err != nil {
		return err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending != 0 || info.NumAckPending != 0 {
		return fmt.Errorf("consumer %s: %d pending, %d unacked", durable, info.NumPending, info.NumAckPending)
	}
	return nil
}

// assertDrained checks that the coordinators' consumer has nothing left:
// no event pending, none delivered and unacked.
func assertDrained(t testing.TB, c *cluster) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error { return eventsDrained(c) })
}

// TestCleanStopHandsTakenWorkBackAtOnce: a burst of events is published
// and one node stopped cleanly in the middle of it. What that node's
// coordinator and purge dispatcher had taken must go to the other nodes at
// once, not after the consumers' AckWait (30 s): every event is applied
// and every tag confirmed by the Cloudflare fake within 15 s.
func TestCleanStopHandsTakenWorkBackAtOnce(t *testing.T) {
	fake := cloudflarefake.New(cdnToken)
	t.Cleanup(fake.Close)
	c := startCluster(t, clusterOptions{cloudflare: fake.URL()})
	const total = 3000
	nc, err := nats.Connect(c.nats.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*total))
	if err != nil {
		t.Fatal(err)
	}
	for i := range total {
		m, err := itemEvent(i).Msg()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
		if i == total/2 {
			c.nodes[1].Stop()
		}
	}
	<-js.PublishAsyncComplete()
	start := time.Now()
	for _, cons := range []struct {
		name    string
		drained func() error
	}{
		{"events", func() error { return eventsDrained(c) }},
		{purge.ConsumerName, func() error { return drained(c, purge.StreamName, purge.ConsumerName) }},
	} {
		if err := testenv.Poll(15*time.Second, cons.drained); err != nil {
			t.Errorf("%s: %v", cons.name, err)
			continue
		}
		t.Logf("%s drained %v after the burst", cons.name, time.Since(start).Round(time.Millisecond))
	}
	seen := make(map[string]bool)
	for _, tag := range fake.Confirmed()[cdnZone] {
		seen[tag] = true
	}
	for i := range total {
		if tag := invalidation.CDNTag("acme", fmt.Sprintf("item-%d", i)); !seen[tag] {
			t.Errorf("Cloudflare never confirmed %s", tag)
			break
		}
	}
}
