package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// tenantNames are the demo companies' names, which their pages show.
var tenantNames = map[string]string{"acme": "Acme Industrial Supply", "berg": "Berg Maschinenbau GmbH"}

// TestRedisKilledChangesNothingForTheClient: Redis is killed while the
// three nodes serve; every request still gets 200 with the right tenant's
// page, including requests that must go to the origin because a node's L1
// was dropped meanwhile. After Redis restarts (empty), the nodes use L2
// again by themselves: a node whose L1 was dropped gets an L2 hit for a
// page another node fetched.
func TestRedisKilledChangesNothingForTheClient(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	pages := []target{{"acme", "/"}, {"acme", "/companies"}, {"berg", "/"}, {"berg", "/companies"}}
	for _, n := range c.nodes {
		for _, p := range pages {
			warm(t, n, p.tenant, p.path)
		}
	}

	load := startReadLoad(c, pages, func(target) func(page) string {
		return func(p page) string {
			if p.version < 1 {
				return fmt.Sprintf("version %d", p.version)
			}
			return ""
		}
	})
	served := func(min int64) { t.Helper(); load.served(t, min) }
	served(100)
	c.redis.Stop()
	served(100)
	// Without L2, a dropped L1 sends requests to the origin.
	for _, n := range c.nodes {
		if err := n.Gateway().DropLocal(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	served(200)
	c.redis.Restart()
	served(100)
	load.finish(t, "across the outage")
	// L2 again, by itself.
	c.awaitL2Again(t)
}

// awaitL2Again waits until L2 serves again: node 0 fetches and stores in
// L2, node 1 (L1 dropped) finds it there.
func (c *cluster) awaitL2Again(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	testenv.WaitFor(t, 30*time.Second, func() error {
		for _, n := range c.nodes[:2] {
			if err := n.Gateway().DropLocal(ctx); err != nil {
				return err
			}
		}
		if _, err := c.nodes[2].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil {
			return fmt.Errorf("event after the fault: %w", err)
		}
		first := mustGet(t, c.nodes[0].URL, "acme", "/")
		second := mustGet(t, c.nodes[1].URL, "acme", "/")
		if second.layer() != "l2" || second.rendered != first.rendered {
			return fmt.Errorf("node 1 after node 0 fetched (%q): %q, want an L2 hit of node 0's copy", first.cacheStatus, second.cacheStatus)
		}
		return nil
	})
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestEventDuringRedisOutageIsAppliedOnceRedisIsBack: an edit's event is
// published while Redis is down. The coordinator cannot invalidate L2 and
// retries with backoff, but every node's L1 copy is dropped meanwhile; once
// Redis is back, the event is applied and no node serves the page from
// before it.
func TestEventDuringRedisOutageIsAppliedOnceRedisIsBack(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	before := make(map[int]page)
	for i, n := range c.nodes {
		before[i] = warm(t, n, "acme", "/")
	}
	c.redis.Stop()
	ctx := context.Background()
	if _, err := c.nodes[0].Publisher().Publish(ctx, companyUpdated("acme")); err != nil {
		t.Fatal(err)
	}
	published := time.Now()
	// While Redis is down the L1 copies go anyway (the L1 broadcast does
	// not wait for L2), so no node keeps serving the page from before the
	// event during the outage.
	testenv.WaitFor(t, 10*time.Second, func() error {
		for i, n := range c.nodes {
			if p := mustGet(t, n.URL, "acme", "/"); p.rendered <= before[i].rendered {
				return fmt.Errorf("Redis down: node %d still serves the copy from before the event (%q)", i, p.cacheStatus)
			}
		}
		return nil
	})
	t.Logf("with Redis down, no node serves the copy from before the event %v after the publish", time.Since(published).Round(time.Millisecond))
	c.redis.Restart()
	testenv.WaitFor(t, 20*time.Second, func() error {
		for i, n := range c.nodes {
			if p := mustGet(t, n.URL, "acme", "/"); p.rendered <= before[i].rendered {
				return fmt.Errorf("node %d still serves the copy from before the event (%q)", i, p.cacheStatus)
			}
		}
		return nil
	})
	t.Logf("applied on every node %v after the publish, Redis back", time.Since(published).Round(time.Millisecond))
}

// TestInvalidationOutlivesALongRedisOutage is the operator's repro: pages
// cached on every node and in L2, Redis stopped (its data saved), an
// event published, Redis kept down past the retry budget that once
// dead-lettered the event (eight attempts), then started again with its
// data, the pre-event page still in it, and a node replaced by a new one
// (an empty L1 that reads L2). From the moment Redis is back, no node
// serves the pre-event page: not while the coordinator's retry is still
// due (the nodes know the invalidation L2 has not recorded), and not
// after (the retry applies it).
func TestInvalidationOutlivesALongRedisOutage(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	var oldest int
	for i, n := range c.nodes {
		p := warm(t, n, "acme", "/")
		if i == 0 || p.rendered > oldest {
			oldest = p.rendered
		}
	}
	c.redis.StopSaving()
	ctx := context.Background()
	id, err := c.nodes[0].Publisher().Publish(ctx, companyUpdated("acme"))
	if err != nil {
		t.Fatal(err)
	}
	const oldBudget = 8
	testenv.WaitFor(t, 60*time.Second, func() error {
		st, err := getPurgeState(ctx, c.nodes[0], id)
		if err != nil {
			return err
		}
		if l2 := st.Targets["l2"]; l2.Attempts <= oldBudget || l2.Status == "applied" {
			return fmt.Errorf("L2 state %+v", l2)
		}
		return nil
	})
	c.redis.Start()
	c.nodes[1].Stop()
	c.nodes = append(c.nodes[:1], c.startNode())
	c.waitLive(2)
	check := func() {
		t.Helper()
		for i, n := range c.nodes {
			if p := mustGet(t, n.URL, "acme", "/"); p.rendered <= oldest {
				t.Fatalf("node %d serves the page from before the event (rendered %d, Cache-Status %q)", i, p.rendered, p.cacheStatus)
			}
		}
	}
	testenv.WaitFor(t, 20*time.Second, func() error {
		check()
		if st := purgeState(t, c.nodes[0], id); st.Targets["l2"].Status != "applied" {
			return fmt.Errorf("L2 not applied yet: %+v", st.Targets["l2"])
		}
		return nil
	})
	check()
	if dls := deadLetters(t, c.nodes[0]); len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls)
	}
}
