package cluster_test

import (
	"testing"
	"time"

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

	bar := newEditBar()
	load := startReadLoad(c, pages, bar.check)
	served := func(min int64) { t.Helper(); load.served(t, min) }
	event := func() { t.Helper(); bar.edit(t, c) }

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
