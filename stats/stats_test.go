package stats

import (
	"fmt"
	"sync"
	"testing"
)

func TestRoute(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/a": "/a", "/a/b/c": "/a", "/companies?x": "/companies?x"} {
		if got := Route(in); got != want {
			t.Errorf("Route(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRecorderCountsAndRatios(t *testing.T) {
	r := New()
	for i := 0; i < 3; i++ {
		q := r.Begin("acme", "/companies/1")
		q.Hit(L1)
	}
	q := r.Begin("acme", "/companies/2")
	q.Miss(L1)
	q.Miss(L2)
	q.Forwarded()

	s := r.Snapshot()
	if s.Requests != 4 || s.HitRatio != 0.75 {
		t.Fatalf("requests=%d ratio=%v, want 4 and 0.75", s.Requests, s.HitRatio)
	}
	if l1 := s.Layers[L1]; l1.Hits != 3 || l1.Misses != 1 || l1.HitRatio != 0.75 {
		t.Errorf("l1 = %+v", l1)
	}
	if got := s.Tenants["acme"].Layers[Origin].Hits; got != 1 {
		t.Errorf("acme origin = %d, want 1", got)
	}
	if got := s.Routes["/companies"].Requests; got != 4 {
		t.Errorf("route /companies requests = %d, want 4", got)
	}
}

func TestRecorderBoundsTenants(t *testing.T) {
	r := New()
	r.maxTenants = 2
	for i := 0; i < 10; i++ {
		r.Begin(fmt.Sprintf("t%d", i), "/").Hit(L1)
	}
	s := r.Snapshot()
	if len(s.Tenants) != 3 || s.Tenants[Other].Requests != 8 {
		t.Fatalf("tenants = %v", s.Tenants)
	}
}

// Concurrent requests of many tenants keep the table within its bound
// (plus Other) and lose no count.
func TestRecorderConcurrentBound(t *testing.T) {
	r := New()
	r.maxTenants = 5
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				r.Begin(fmt.Sprintf("t%d", (w*200+i)%37), "/a").Hit(L1)
			}
		})
	}
	wg.Wait()
	s := r.Snapshot()
	if len(s.Tenants) > 6 {
		t.Errorf("%d tenant rows, want at most 6", len(s.Tenants))
	}
	var sum uint64
	for _, c := range s.Tenants {
		sum += c.Requests
	}
	if sum != 1600 || s.Requests != 1600 || s.Routes["/a"].Layers[L1].Hits != 1600 {
		t.Errorf("tenant sum %d, requests %d, route hits %d; want 1600", sum, s.Requests, s.Routes["/a"].Layers[L1].Hits)
	}
}
