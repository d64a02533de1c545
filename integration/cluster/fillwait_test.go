package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestWaiterOfAnInvalidatedFillDoesNotStall: node 0 fetches acme's
// profile from a slow origin holding the cross-instance fill lock; node 1
// misses the same page and waits for node 0's entry; an edit's event is
// applied while node 0's fetch is in flight, so the entry node 0 stores is
// dead on arrival. Node 1 must then fetch for itself, not keep polling L2
// for an entry that will never be fresh until the lock's TTL ran out.
//
// Without the event, node 1's answer is node 0's entry, collapsed.
func TestWaiterOfAnInvalidatedFillDoesNotStall(t *testing.T) {
	for _, invalidate := range []bool{false, true} {
		t.Run(fmt.Sprintf("invalidated=%v", invalidate), func(t *testing.T) {
			testFillWait(t, invalidate)
		})
	}
}

func testFillWait(t *testing.T, invalidate bool) {
	const latency = 500 * time.Millisecond
	c := startCluster(t, clusterOptions{nodes: 2, originLatency: latency})
	ctx := context.Background()

	first := make(chan error, 1)
	go func() {
		_, err := get(ctx, c.nodes[0].URL, "acme", "/")
		first <- err
	}()
	// Node 0 holds the lock once its request reached the origin.
	testenv.WaitFor(t, 5*time.Second, func() error {
		if _, paths := c.originStats(t); paths["/"] < 1 {
			return fmt.Errorf("node 0's fetch has not reached the origin")
		}
		return nil
	})
	type result struct {
		p   page
		err error
		d   time.Duration
	}
	second := make(chan result, 1)
	go func() {
		start := time.Now()
		p, err := get(ctx, c.nodes[1].URL, "acme", "/")
		second <- result{p, err, time.Since(start)}
	}()
	if invalidate {
		if _, err := c.nodes[0].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !invalidate && !strings.Contains(r.p.cacheStatus, "collapsed") {
		t.Errorf("node 1: Cache-Status %q, want node 0's entry, collapsed", r.p.cacheStatus)
	}
	t.Logf("node 1 answered in %v with Cache-Status %q", r.d.Round(time.Millisecond), r.p.cacheStatus)
	if limit := gateway.DefaultLockTTL / 2; r.d > limit {
		t.Errorf("node 1 took %v (Cache-Status %q): it waited for a fill that an invalidation had killed, want under %v (the origin takes %v)",
			r.d.Round(time.Millisecond), r.p.cacheStatus, limit, latency)
	}
}
