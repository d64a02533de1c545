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

// TestMemcachedServerKilled: one of the two memcached servers is killed
// while three nodes serve and an edit is published; every request still
// gets its page, and none shows acme's page from before an edit whose
// wait-publish returned: the dead server's keys (entries and generation
// counters alike) are gone, and a missing counter counts as invalidated.
// The server comes back empty, and the nodes use L2 again by themselves.
func TestMemcachedServerKilled(t *testing.T) {
	a, b := testenv.StartMemcached(t), testenv.StartMemcached(t)
	c := startCluster(t, clusterOptions{l2URL: "memcached://" + a.Addr + "," + b.Addr})
	pages := []target{{"acme", "/"}, {"acme", "/companies"}, {"berg", "/"}, {"berg", "/companies"}}
	for _, n := range c.nodes {
		for _, p := range pages {
			warm(t, n, p.tenant, p.path)
		}
	}
	bar := newEditBar()
	load := startReadLoad(c, pages, bar.check)
	edit := func() { t.Helper(); bar.edit(t, c) }
	load.served(t, 100)
	a.Stop()
	edit()
	load.served(t, 200)
	// Without the server, a node whose L1 was dropped refetches, through
	// the surviving server or the origin.
	for _, n := range c.nodes {
		if err := n.Gateway().DropLocal(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	load.served(t, 200)
	a.Restart()
	edit()
	load.served(t, 200)
	load.finish(t, "across the memcached server's death and return")
	// L2 again, by itself.
	c.awaitL2Again(t)
}
