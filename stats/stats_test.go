package stats

import (
	"fmt"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"testing"
)

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "/a": "/a", "/a/b/c": "/a", "/companies?x": "/companies?x"} {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRecorderCountsAndRatios(t *testing.T) {
	r := New()
	for i := 0; i < 3; i++ {
		q := r.Begin("acme", "companies", "/companies/1")
		q.Hit(L1)
	}
	q := r.Begin("acme", "companies", "/companies/2")
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
	if got := s.Routes["companies"].Requests; got != 4 {
		t.Errorf("route companies requests = %d, want 4", got)
	}
	if got := s.Prefixes["/companies"].Requests; got != 4 {
		t.Errorf("prefix /companies requests = %d, want 4", got)
	}
}

func TestRecorderBoundsTenants(t *testing.T) {
	r := New()
	r.maxTenants = 2
	for i := 0; i < 10; i++ {
		r.Begin(fmt.Sprintf("t%d", i), "default", "/").Hit(L1)
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
				r.Begin(fmt.Sprintf("t%d", (w*200+i)%37), "a", "/a").Hit(L1)
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
	if sum != 1600 || s.Requests != 1600 || s.Routes["a"].Layers[L1].Hits != 1600 {
		t.Errorf("tenant sum %d, requests %d, route hits %d; want 1600", sum, s.Requests, s.Routes["a"].Layers[L1].Hits)
	}
}

func TestTaggedCountsPrefixesOncePerResponse(t *testing.T) {
	r := New()
	q := r.Begin("acme", "companies", "/companies/1")
	q.Hit(L1)
	q.Tagged([]string{"company:1", "company:2", "list", "user:9"}, true)
	q = r.Begin("acme", "companies", "/companies/2")
	q.Forwarded()
	q.Tagged([]string{"company:2"}, false)
	s := r.Snapshot()
	for _, tt := range []struct {
		prefix        string
		requests, hit uint64
		ratio         float64
	}{
		{"company:*", 2, 1, 0.5},
		{"list", 1, 1, 1},
		{"user:*", 1, 1, 1},
	} {
		got := s.TagPrefixes[tt.prefix]
		if got.Requests != tt.requests || got.Hits != tt.hit || got.HitRatio != tt.ratio {
			t.Errorf("%s = %+v, want %d requests, %d hits, ratio %v", tt.prefix, got, tt.requests, tt.hit, tt.ratio)
		}
	}
	if len(s.TagPrefixes) != 3 {
		t.Errorf("tag prefixes = %v", s.TagPrefixes)
	}
}

func TestTaggedBounded(t *testing.T) {
	r := New()
	r.maxTags = 2
	for i := range 10 {
		r.Begin("t", "r", "/").Tagged([]string{fmt.Sprintf("p%d:1", i)}, true)
	}
	s := r.Snapshot()
	if len(s.TagPrefixes) != 3 || s.TagPrefixes[Other].Requests != 8 {
		t.Errorf("tag prefixes = %v", s.TagPrefixes)
	}
	// Two prefixes past the bound, on one response: one request in Other.
	for _, hit := range []bool{true, false} {
		var set atomic.Pointer[TagSet]
		q := r.Begin("t", "r", "/")
		q.Tagged([]string{"x:1", "y:1", "p0:2"}, hit)
		q.TaggedCached(&set, []string{"x:1", "y:1", "p0:2"}, hit)
	}
	s = r.Snapshot()
	if got := s.TagPrefixes[Other]; got.Requests != 12 || got.Hits != 10 {
		t.Errorf("Other after 4 responses with two prefixes past the bound: %+v, want 12 requests, 10 hits", got)
	}
	if got := s.TagPrefixes["p0:*"]; got.Requests != 5 || got.Hits != 3 {
		t.Errorf("p0:* = %+v, want 5 requests, 3 hits", got)
	}
}

func TestMerge(t *testing.T) {
	a, b := New(), New()
	a.Begin("acme", "home", "/").Hit(L1)
	q := b.Begin("acme", "home", "/")
	q.Miss(L1)
	q.Forwarded()
	b.Begin("berg", "api", "/api/x").Hit(L2)
	m := Merge(a.Snapshot(), b.Snapshot())
	if m.Requests != 3 || m.Layers[Origin].Hits != 1 || math.Abs(m.HitRatio-2.0/3) > 1e-9 {
		t.Errorf("merged all = %+v", m.Counts)
	}
	if c := m.Tenants["acme"]; c.Requests != 2 || c.HitRatio != 0.5 || c.Layers[L1].HitRatio != 0.5 {
		t.Errorf("merged acme = %+v", c)
	}
	if m.Routes["api"].Requests != 1 || m.Prefixes["/api"].Requests != 1 || m.Prefixes["/"].Requests != 2 {
		t.Errorf("merged routes %v prefixes %v", m.Routes, m.Prefixes)
	}
	if e := Merge(); e.Requests != 0 || e.Tenants == nil {
		t.Errorf("empty merge = %+v", e)
	}
}

// TestRequestRepeatHits: a kept handle counts as Begin and Hit would,
// on the same rows.
func TestRequestRepeatHits(t *testing.T) {
	r := New()
	q := r.Begin("acme", "frag", "/frag/a")
	q.Hit(L1)
	q.RepeatHits(2, L1)
	s := r.Snapshot()
	if s.Requests != 3 || s.Layers[L1].Hits != 3 || s.Layers[L1].Misses != 0 {
		t.Fatalf("requests=%d l1=%+v, want 3 and 3 hits", s.Requests, s.Layers[L1])
	}
	for name, c := range map[string]Counts{"tenant": s.Tenants["acme"], "route": s.Routes["frag"], "prefix": s.Prefixes["/frag"]} {
		if c.Requests != 3 || c.Layers[L1].Hits != 3 {
			t.Errorf("%s row: %+v", name, c)
		}
	}
	var zero Request
	zero.RepeatHits(1, L1) // a request counted nowhere stays so
}

// TaggedCached counts what Tagged counts, resolving the rows once per set
// of prefixes, and follows a change of Recorder.
func TestTaggedCachedCountsAsTagged(t *testing.T) {
	tags := []string{"company:1", "company:2", "list", "user:9"}
	direct, cached := New(), New()
	var set, other atomic.Pointer[TagSet]
	for i := range 3 {
		hit := i > 0
		direct.Begin("acme", "r", "/").Tagged(tags, hit)
		cached.Begin("acme", "r", "/").TaggedCached(&set, tags, hit)
	}
	// Another response with the same prefixes shares the set.
	cached.Begin("acme", "r", "/").TaggedCached(&other, []string{"list", "company:7", "user:1"}, true)
	direct.Begin("acme", "r", "/").Tagged([]string{"list", "company:7", "user:1"}, true)
	if got, want := cached.Snapshot().TagPrefixes, direct.Snapshot().TagPrefixes; !maps.Equal(got, want) {
		t.Errorf("cached %v, direct %v", got, want)
	}
	first := set.Load()
	if first == nil || len(first.rows) != 3 {
		t.Fatalf("set = %+v, want 3 rows", first)
	}
	// The same prefixes in another order are another set (the key is the
	// rows in order), with the same rows.
	if o := other.Load(); o == first || len(o.rows) != 3 {
		t.Errorf("other set %p %+v, first %p", o, o, first)
	}
	// A set of another recorder is resolved again for this one.
	again := New()
	again.Begin("acme", "r", "/").TaggedCached(&set, tags, true)
	if set.Load() == first || again.Snapshot().TagPrefixes["company:*"].Hits != 1 {
		t.Errorf("set not resolved for the new recorder: %v", again.Snapshot().TagPrefixes)
	}
}

// Tag sets are shared up to maxTagSets; past it each response gets its
// own, counted all the same.
func TestTagSetsBounded(t *testing.T) {
	r := New()
	r.maxTags = 2 * maxTagSets
	var sets [maxTagSets + 2]atomic.Pointer[TagSet]
	for i := range sets {
		r.Begin("t", "r", "/").TaggedCached(&sets[i], []string{fmt.Sprintf("p%d:1", i)}, true)
	}
	if n := r.nTagSets.Load(); n != maxTagSets {
		t.Errorf("%d shared sets, want %d", n, maxTagSets)
	}
	if got := len(r.Snapshot().TagPrefixes); got != len(sets) {
		t.Errorf("%d tag prefixes counted, want %d", got, len(sets))
	}
}
