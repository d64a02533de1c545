package events_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
)

// TestPublishToAppliedManyInstances measures publish → applied (L2 and
// every live instance's L1 acked, the waiter told) as the number of
// instances grows, and how long an instance that vanishes without
// deregistering holds invalidations up. Each instance is an Instance on
// its own NATS connection with its own L1, as a gateway process has; one
// coordinator awaits them all. The short form (10 instances) runs in
// make test; CACHEGATE_SCALE=long runs 10, 50 and 100 with more events.
func TestPublishToAppliedManyInstances(t *testing.T) {
	counts, perCount := []int{10}, 200
	if os.Getenv("CACHEGATE_SCALE") == "long" {
		counts, perCount = []int{10, 50, 100}, 1000
	}
	for _, n := range counts {
		t.Run(fmt.Sprintf("instances=%d", n), func(t *testing.T) {
			publishToAppliedWith(t, n, perCount)
		})
	}
}

func publishToAppliedWith(t *testing.T, n, published int) {
	e := newEnv(t)
	ctx := context.Background()
	locals := make([]*fakeLocal, n)
	ids := make([]string, n)
	var lastConn func()
	for i := range n {
		ids[i] = fmt.Sprintf("i%03d", i)
		// The defaults a gateway runs with: heartbeat 1 s, TTL 3 s.
		_, l, nc := e.instanceWith(events.InstanceConfig{ID: ids[i]})
		locals[i] = l
		lastConn = nc.Close
	}
	c := e.coordinator(events.CoordinatorConfig{Shared: newFakeShared(), Queue: newMemQueue(), States: &memStates{}, Audit: &memAudit{}})
	waitLive(t, c, ids...)
	p := e.publisher()

	lat := make([]time.Duration, 0, published)
	for i := range published {
		key := fmt.Sprint(i)
		start := time.Now()
		if _, err := p.PublishAndWait(ctx, companyEvent("acme", key)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		lat = append(lat, time.Since(start))
		for j, l := range locals {
			if !l.hasRecentTag("acme", "company:"+key) {
				t.Fatalf("event %d: wait returned before instance %s dropped the tag", i, ids[j])
			}
		}
	}
	slices.Sort(lat)
	t.Logf("%d instances, %d wait-publishes: p50 %v p99 %v max %v", n, published,
		quantile(lat, 0.50), quantile(lat, 0.99), lat[len(lat)-1])

	// An instance that vanishes (its connection gone, no deregistration)
	// is awaited until its heartbeat TTL runs out: the next wait-publish
	// is held up by at most that TTL plus the coordinator's retry backoff.
	lastConn()
	start := time.Now()
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "after-vanish")); err != nil {
		t.Fatalf("after an instance vanished: %v", err)
	}
	held := time.Since(start)
	t.Logf("%d instances, one vanished: the next wait-publish took %v (TTL %v)", n, held,
		events.DefaultTTLFactor*events.DefaultHeartbeat)
	for j, l := range locals[:n-1] {
		if !l.hasRecentTag("acme", "company:after-vanish") {
			t.Fatalf("instance %s did not drop the tag", ids[j])
		}
	}
	if limit := events.DefaultTTLFactor*events.DefaultHeartbeat + events.DefaultBackoffMax; held > limit {
		t.Errorf("a vanished instance held the invalidation up %v, more than its TTL plus the retry backoff (%v)", held, limit)
	}
}

// hasRecentTag is hasTag looking at the newest requests first: the one
// just awaited is at the end.
func (l *fakeLocal) hasRecentTag(tenant, tag string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.reqs) - 1; i >= 0; i-- {
		if r := l.reqs[i]; r.Tenant == tenant && slices.Contains(r.Tags, tag) {
			return true
		}
	}
	return false
}

// quantile is the q-quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(float64(len(sorted)-1)*q)]
}
