package gateway

import (
	"fmt"
	"hash/maphash"
	"testing"
	"time"
)

// The read window: no rate before a whole period was watched, then the
// mean time between reads of one URL, for URLs read often and rarely
// (URLs read once in the window are not taken as read once per window).
func TestReadWindowEvery(t *testing.T) {
	seed := maphash.MakeSeed()
	start := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		urls     int
		every    time.Duration // each URL's reads, staggered
		min, max time.Duration // the estimate's range
	}{
		{"often", 50, 30 * time.Second, 27 * time.Second, 33 * time.Second},
		{"rarely", 200, 20 * time.Minute, 18 * time.Minute, 22 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w readWindow
			end := start.Add(90 * time.Minute)
			// The URLs' reads in turn, in time order.
			step := c.every / time.Duration(c.urls)
			for i, at := 0, start; at.Before(end); i, at = i+1, at.Add(step) {
				if at.Before(start.Add(59*time.Minute)) && w.every(at) != 0 {
					t.Fatalf("a rate at %v, before a period was watched", at.Sub(start))
				}
				w.add(maphash.String(seed, fmt.Sprint("/p/", i%c.urls)), at)
			}
			got := w.every(end)
			if got < c.min || got > c.max {
				t.Fatalf("every %v, want [%v, %v]", got, c.min, c.max)
			}
		})
	}
}

// Tracked entries: an invalidation counts each entry it reaches once,
// with its life, and forgets it; a tenant's tags do not reach another's;
// the number tracked stays bounded.
func TestTrackedKeys(t *testing.T) {
	var k trackedKeys
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	k.store("acme", "a", []string{"gallery", "url:/a"}, t0)
	k.store("acme", "b", []string{"gallery"}, t0.Add(time.Minute))
	k.store("berg", "c", []string{"gallery"}, t0)
	n, life := k.invalidated("acme", []string{"gallery", "url:/a"}, t0.Add(2*time.Minute))
	if n != 2 || life != 3*time.Minute {
		t.Fatalf("invalidated %d entries, %v of life; want 2, 3m", n, life)
	}
	if n, _ := k.invalidated("acme", []string{"gallery"}, t0.Add(3*time.Minute)); n != 0 {
		t.Fatalf("a second invalidation counted %d forgotten entries", n)
	}
	// The bound, on a fresh set: berg's entry above, left to a random
	// eviction, would leave one key fewer under t in 13% of runs.
	k = trackedKeys{}
	for i := range 3 * autoTrackedMax {
		k.store("acme", fmt.Sprint(i), []string{"t", fmt.Sprint("u", i)}, t0)
	}
	if len(k.byKey) != autoTrackedMax || len(k.byTag[tenantTag{"acme", "t"}]) != autoTrackedMax || len(k.byTag) > 2*autoTrackedMax+1 {
		t.Fatalf("%d keys, %d under t, %d tags tracked; want at most %d keys", len(k.byKey), len(k.byTag[tenantTag{"acme", "t"}]), len(k.byTag), autoTrackedMax)
	}
}
