package events

import (
	"testing"
	"time"
)

func TestL2GuardInvalidated(t *testing.T) {
	issued := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := NewL2Guard(time.Second)
	if !g.Invalidated("acme", nil, issued) {
		t.Fatal("a guard that has not read the pending invalidations let an entry through")
	}
	g.ready.Store(true)
	if g.Invalidated("acme", []string{"company:acme"}, issued.Add(-time.Hour)) {
		t.Fatal("nothing pending, yet an entry was vetoed")
	}
	g.put("e1", pendingRecord{Tenant: "acme", Tags: []string{"company:acme", "company"}, Issued: issued})
	g.put("e2", pendingRecord{Tenant: "berg", Everything: true, Issued: issued})
	for _, tc := range []struct {
		name    string
		tenant  string
		tags    []string
		fetched time.Time
		want    bool
	}{
		{"tagged, fetched before", "acme", []string{"x", "company"}, issued.Add(-time.Minute), true},
		{"tagged, fetched within the skew margin", "acme", []string{"company:acme"}, issued.Add(500 * time.Millisecond), true},
		{"tagged, fetched after the margin", "acme", []string{"company:acme"}, issued.Add(2 * time.Second), false},
		{"other tags", "acme", []string{"company:berg"}, issued.Add(-time.Minute), false},
		{"other tenant, same tag", "cirrus", []string{"company:acme"}, issued.Add(-time.Minute), false},
		{"whole tenant", "berg", nil, issued.Add(-time.Minute), true},
		{"whole tenant, fetched after", "berg", nil, issued.Add(time.Minute), false},
	} {
		if got := g.Invalidated(tc.tenant, tc.tags, tc.fetched); got != tc.want {
			t.Errorf("%s: Invalidated = %v, want %v", tc.name, got, tc.want)
		}
	}
	g.remove("e1")
	if g.Invalidated("acme", []string{"company:acme"}, issued.Add(-time.Minute)) || g.Pending() != 1 {
		t.Fatal("a cleared invalidation still vetoes entries")
	}
}

func BenchmarkL2GuardNothingPending(b *testing.B) {
	g := NewL2Guard(0)
	g.ready.Store(true)
	tags := []string{"company:acme", "company"}
	now := time.Now()
	for b.Loop() {
		if g.Invalidated("acme", tags, now) {
			b.Fatal("vetoed")
		}
	}
}
