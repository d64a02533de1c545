package storetest

import (
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// The soft invalidation cases (gateway.SoftInvalidator). A store without
// it passes them by not claiming the capability: the gateway then
// invalidates hard.

func (e *env) soft(t *testing.T) gateway.SoftInvalidator {
	t.Helper()
	s, ok := e.s.(gateway.SoftInvalidator)
	if !ok {
		t.Skip("the store does not implement gateway.SoftInvalidator: the gateway invalidates it hard")
	}
	return s
}

// at is a soft mark time, whole milliseconds (a store may keep no finer).
var at = time.UnixMilli(1_900_000_000_123)

// wantSoft fails unless k holds body marked stale since want (zero: not
// marked).
func (e *env) wantSoft(tenant, k, body string, want time.Time) {
	e.t.Helper()
	e.wantLive(tenant, k, body)
	got, _ := e.get(tenant, k)
	if !got.SoftSince.Equal(want) {
		e.t.Fatalf("%s/%s: SoftSince %v, want %v", tenant, k, got.SoftSince, want)
	}
}

// testSoftTags: a soft invalidation leaves the tagged entries readable,
// marked; untagged and later fills are not marked; a hard invalidation
// still kills them.
func testSoftTags(t *testing.T, e *env) {
	s := e.soft(t)
	tn := e.tenant(1)
	g := e.gen(tn)
	e.set(tn, "a", entry("a", g, "x", "y"), time.Minute)
	e.set(tn, "b", entry("b", g, "other"), time.Minute)
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"x"}, at); err != nil {
		t.Fatal(err)
	}
	e.wantSoft(tn, "a", "a", at)
	e.wantSoft(tn, "b", "b", time.Time{})
	_, g = e.get(tn, "c")
	e.set(tn, "c", entry("c", g, "x"), time.Minute)
	e.wantSoft(tn, "c", "c", time.Time{})
	e.invalidate(tn, "y")
	e.wantDead(tn, "a")
	e.wantSoft(tn, "c", "c", time.Time{})
}

// testSoftRacingFill: a fill whose fetch began before a soft invalidation
// is stored, and reads as marked.
func testSoftRacingFill(t *testing.T, e *env) {
	s := e.soft(t)
	tn := e.tenant(1)
	_, g := e.get(tn, "k")
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"x"}, at); err != nil {
		t.Fatal(err)
	}
	e.set(tn, "k", entry("racing", g, "x"), time.Minute)
	e.wantSoft(tn, "k", "racing", at)
}

// testSoftTwice: the second soft invalidation of a tag kills what the
// first one left stale (its window ran from the first), and marks what was
// filled in between.
func testSoftTwice(t *testing.T, e *env) {
	s := e.soft(t)
	tn := e.tenant(1)
	e.set(tn, "old", entry("old", e.gen(tn), "x"), time.Minute)
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"x"}, at); err != nil {
		t.Fatal(err)
	}
	_, g := e.get(tn, "mid")
	e.set(tn, "mid", entry("mid", g, "x"), time.Minute)
	later := at.Add(time.Second)
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"x"}, later); err != nil {
		t.Fatal(err)
	}
	e.wantDead(tn, "old")
	e.wantSoft(tn, "mid", "mid", later)
}

// testSoftEarliest: an entry covered by soft invalidations of two of its
// tags is stale since the earlier one.
func testSoftEarliest(t *testing.T, e *env) {
	s := e.soft(t)
	tn := e.tenant(1)
	e.set(tn, "k", entry("k", e.gen(tn), "x", "y"), time.Minute)
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"x"}, at); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftInvalidateTags(e.ctx, tn, []string{"y"}, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	e.wantSoft(tn, "k", "k", at)
}

// testSoftTenant: a soft invalidation of the tenant marks all of its
// entries; a second one kills them; a hard one after a soft one kills.
func testSoftTenant(t *testing.T, e *env) {
	s := e.soft(t)
	tn, other := e.tenant(1), e.tenant(2)
	e.set(tn, "tagged", entry("t", e.gen(tn), "x"), time.Minute)
	e.set(tn, "untagged", entry("u", e.gen(tn)), time.Minute)
	e.set(other, "k", entry("o", e.gen(other)), time.Minute)
	if err := s.SoftInvalidateTenant(e.ctx, tn, at); err != nil {
		t.Fatal(err)
	}
	e.wantSoft(tn, "tagged", "t", at)
	e.wantSoft(tn, "untagged", "u", at)
	e.wantSoft(other, "k", "o", time.Time{})
	_, g := e.get(tn, "mid")
	e.set(tn, "mid", entry("m", g), time.Minute)
	if err := s.SoftInvalidateTenant(e.ctx, tn, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	e.wantDead(tn, "tagged")
	e.wantDead(tn, "untagged")
	e.wantSoft(tn, "mid", "m", at.Add(time.Second))
	if err := e.s.InvalidateTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	e.wantDead(tn, "mid")
}
