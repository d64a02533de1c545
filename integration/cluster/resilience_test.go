package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

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
// is applied (l1 and l2 "applied", Cloudflare "confirmed" in the admin
// API's state), the purge queue stored exactly one message per event id,
// and the Cloudflare fake saw every event's tag.
func TestCoordinatorStoppedMidStream(t *testing.T) {
	fake := cloudflarefake.New(cdnToken)
	t.Cleanup(fake.Close)
	c := startCluster(t, clusterOptions{cloudflare: fake.URL()})
	ctx := context.Background()

	const total, stopAt, startAt = 90, 30, 60
	ids := make([]string, 0, total)
	var replacement *nodetest.Node
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
	waitApplied(t, replacement, ids, purge.TargetL1, purge.TargetL2, "cloudflare")

	// Dedupe by id: the queue stored each event once, however often the
	// coordinators processed it.
	info := streamInfo(t, c, purge.StreamName)
	if info.State.LastSeq != uint64(total) {
		t.Errorf("purge queue %s stored %d messages, want one per event: %d", purge.StreamName, info.State.LastSeq, total)
	}
	seen := make(map[string]int)
	for _, tag := range fake.Confirmed()[cdnZone] {
		seen[tag]++
	}
	dup := 0
	for i := range total {
		tag := invalidation.CDNTag("acme", fmt.Sprintf("item-%d", i))
		switch n := seen[tag]; {
		case n == 0:
			t.Errorf("Cloudflare never confirmed %s (event %s)", tag, ids[i])
		case n > 1:
			dup++
		}
	}
	t.Logf("%d events, %d Cloudflare calls, %d tags purged more than once", total, len(fake.Calls()), dup)
	if dup > 0 {
		t.Errorf("%d tags were purged at the CDN more than once", dup)
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

// assertDrained checks that the coordinators' consumer has nothing left:
// no event pending, none delivered and unacked.
func assertDrained(t testing.TB, c *cluster) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cons, err := c.jetStream().Consumer(ctx, events.StreamName, events.DefaultDurable)
		if err != nil {
			return err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumPending != 0 || info.NumAckPending != 0 {
			return fmt.Errorf("coordinator consumer: %d pending, %d unacked", info.NumPending, info.NumAckPending)
		}
		return nil
	})
}
