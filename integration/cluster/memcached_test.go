package cluster_test

import (
	"testing"

	"github.com/cachegate/cachegate/internal/testenv"
)

// TestMemcachedL2 runs three nodes on two memcached servers as their L2
// (memcached://a,b): a page one node fetched is an L2 hit on another, and
// after an event published with wait no node serves it from any layer.
func TestMemcachedL2(t *testing.T) {
	a, b := testenv.StartMemcached(t), testenv.StartMemcached(t)
	c := startCluster(t, clusterOptions{l2URL: "memcached://" + a.Addr + "," + b.Addr})
	pages := []target{{"acme", "/"}, {"acme", "/companies"}, {"berg", "/"}}
	before := map[target]page{}
	for _, tg := range pages {
		before[tg] = warm(t, c.nodes[0], tg.tenant, tg.path)
		if got := mustGet(t, c.nodes[1].URL, tg.tenant, tg.path); got.layer() != "l2" || got.rendered != before[tg].rendered {
			t.Fatalf("node 1 %s: Cache-Status %q rendered %d, want node 0's copy from L2 (rendered %d)",
				tg, got.cacheStatus, got.rendered, before[tg].rendered)
		}
	}
	if _, err := c.nodes[2].Publisher().PublishAndWait(t.Context(), companyUpdated("acme")); err != nil {
		t.Fatal(err)
	}
	for i, n := range c.nodes {
		for _, tg := range pages {
			got := mustGet(t, n.URL, tg.tenant, tg.path)
			stale := got.rendered == before[tg].rendered
			if tg.tenant == "acme" && stale {
				t.Errorf("node %d %s after the event returned: Cache-Status %q, the copy from before", i, tg, got.cacheStatus)
			}
			if tg.tenant == "berg" && (!stale || !got.hit()) {
				t.Errorf("node %d %s: Cache-Status %q rendered %d; acme's event must leave berg's copy", i, tg, got.cacheStatus, got.rendered)
			}
		}
	}
}
