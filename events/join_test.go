package events_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
)

// TestPartitionJoinHandsOverAtOnce publishes with wait, over tenants of
// every partition, while a second coordinator joins one that pulls from
// them all. The partitions it is dealt pass to it as soon as the first
// has finished what it took from them: no wait-publish waits for their
// pins to expire (PinnedTTL, 5 s; 3.7 s of waiting before hand-over
// unpinned), and every event is applied.
func TestPartitionJoinHandsOverAtOnce(t *testing.T) {
	e := newEnv(t)
	log := newApplyLog()
	first := e.coordinator(events.CoordinatorConfig{Shared: log.as("first")})
	waitDealt(t, first)
	p := e.publisher()
	tenants := tenantNames(8)
	var second *events.Coordinator
	var worst time.Duration
	dealtAt := -1
	n := 0
	began := time.Now()
	for ; dealtAt < 0 || n < dealtAt+40; n++ {
		if n == 20 {
			second = e.coordinator(events.CoordinatorConfig{Shared: log.as("second")})
		}
		start := time.Now()
		if _, err := p.PublishAndWait(context.Background(), companyEvent(tenants[n%len(tenants)], strconv.Itoa(n))); err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		worst = max(worst, time.Since(start))
		if second != nil && dealtAt < 0 && dealt(first, second) {
			dealtAt = n
		}
		if time.Since(began) > 30*time.Second {
			t.Fatalf("partitions not dealt after %d events: first %v, second %v", n, first.Partitions(), second.Partitions())
		}
	}
	if worst > 2*time.Second {
		t.Errorf("a wait-publish waited %v while a coordinator joined", worst)
	}
	if got := log.count(); got != n {
		t.Errorf("%d events applied, want %d", got, n)
	}
	log.mu.Lock()
	t.Logf("%d events, longest wait %v; applied by first %d, second %d", n, worst.Round(time.Millisecond), log.by["first"], log.by["second"])
	log.mu.Unlock()
}

// dealt reports whether cs pull from every partition, each from one.
func dealt(cs ...*events.Coordinator) bool {
	var all []int
	for _, c := range cs {
		ps := c.Partitions()
		if len(ps) == 0 {
			return false
		}
		all = append(all, ps...)
	}
	slices.Sort(all)
	return slices.Equal(all, []int{0, 1, 2, 3})
}
