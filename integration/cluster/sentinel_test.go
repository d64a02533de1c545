package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestSentinelFailover runs three nodes on a Sentinel-managed L2 (a
// primary, two replicas, three sentinels) under a steady load of cacheable
// GETs, and kills the primary right after an event published with wait
// returned. No client sees an error; no request begun after a
// wait-publish returned is answered with a page rendered before it was
// issued (the killed primary's invalidation survives on the replica that
// takes over); and L2 serves again after the failover with no node
// restarted.
func TestSentinelFailover(t *testing.T) {
	set := testenv.StartRedisSentinel(t, 2)
	c := startCluster(t, clusterOptions{l2URL: set.URL()})
	pages := []target{{"acme", "/"}, {"acme", "/companies"}, {"berg", "/"}}
	for _, n := range c.nodes {
		for _, p := range pages {
			warm(t, n, p.tenant, p.path)
		}
	}

	// bar: acme pages rendered at or before it are dead, once set.
	var bar atomic.Int64
	bar.Store(-1)
	load := startReadLoad(c, pages, func(tg target) func(page) string {
		dead := bar.Load()
		return func(p page) string {
			if tg.tenant == "acme" && int64(p.rendered) <= dead {
				return fmt.Sprintf("stale read: rendered %d, dead up to %d", p.rendered, dead)
			}
			return ""
		}
	})
	served := func(min int64) { t.Helper(); load.served(t, min) }
	// event publishes acme's change with wait; every page rendered before
	// it was issued is dead once it returns.
	event := func() {
		t.Helper()
		now := mustGet(t, c.originURL, "acme", "/") // the origin's render sequence now
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// ErrL2Pending is a success: L1 applied, L2's older entries vetoed.
		if _, err := c.nodes[0].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil && !errors.Is(err, events.ErrL2Pending) {
			t.Fatalf("wait-publish: %v", err)
		}
		bar.Store(int64(now.rendered))
	}

	served(100)
	event()
	old := set.Primary()
	old.Stop() // right after the invalidation: nothing more reaches the replicas
	killed := time.Now()
	served(100)
	event() // during the election, most likely: pending for L2
	set.AwaitFailover(old, 60*time.Second, 1)
	t.Logf("failover took %v", time.Since(killed).Round(time.Millisecond))
	event()
	served(100)
	load.finish(t, "across the failover")
	// L2 again, with nothing restarted.
	c.awaitL2Again(t)
}
