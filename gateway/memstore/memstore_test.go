package memstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/storetest"
)

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) gateway.Store { return newStore(t, Config{}) })
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		ok   bool
		name string
	}{
		{Config{}, true, "zero means defaults"},
		{Config{MaxBytes: 1 << 20, MaxTTL: time.Hour}, true, "explicit"},
		{Config{MaxBytes: -1}, false, "negative bytes"},
		{Config{MaxTTL: -time.Second}, false, "negative ttl"},
	} {
		err := c.cfg.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v", c.name, err)
		}
		if _, err := New(c.cfg); (err == nil) != c.ok {
			t.Errorf("%s: New() = %v", c.name, err)
		}
	}
}

func entryOf(size int, gen uint64, tags ...string) *gateway.Entry {
	return &gateway.Entry{Status: 200, Body: make([]byte, size), Tags: tags, FetchGen: gen}
}

// TestBoundedInBytes fills far more than MaxBytes and checks the weighted
// size stays under it (PITFALLS 3).
func TestBoundedInBytes(t *testing.T) {
	const maxBytes = 1 << 20
	s := newStore(t, Config{MaxBytes: maxBytes})
	ctx := context.Background()
	for i := range 2000 { // about 4 MiB of 2 KiB entries
		if err := s.Set(ctx, "t", fmt.Sprint("k", i), entryOf(2048, 0), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	s.cache.CleanUp()
	if w := s.WeightedSize(); w > maxBytes {
		t.Fatalf("weighted size %d exceeds MaxBytes %d", w, maxBytes)
	}
	if w := s.WeightedSize(); w < maxBytes/2 {
		t.Fatalf("weighted size %d: the cache evicts far below its bound", w)
	}
}

func TestTTLClampedToMaxTTL(t *testing.T) {
	s := newStore(t, Config{MaxTTL: time.Minute})
	ctx := context.Background()
	if err := s.Set(ctx, "t", "k", entryOf(1, 0), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	en, ok := s.cache.GetEntry("k")
	if !ok {
		t.Fatal("entry missing")
	}
	if d := en.ExpiresAfter(); d > time.Minute || d < 50*time.Second {
		t.Fatalf("entry expires after %v, want about MaxTTL (1m)", d)
	}
}

// TestInvalidationRecordsArePruned checks that tag records do not outlive
// MaxTTL (plus margin): memory stays bounded however many distinct tags are
// invalidated over time.
func TestInvalidationRecordsArePruned(t *testing.T) {
	s := newStore(t, Config{MaxTTL: time.Hour})
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }
	for i := range 1000 {
		if err := s.InvalidateTags(ctx, "t", []string{fmt.Sprint("tag", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.records(); n != 1000 {
		t.Fatalf("%d records, want 1000", n)
	}
	// A fill that predates those invalidations and was stored before them
	// expires within MaxTTL, so the records may go after MaxTTL+margin.
	now = now.Add(time.Hour + pruneMargin + time.Second)
	if err := s.InvalidateTags(ctx, "t", []string{"fresh"}); err != nil {
		t.Fatal(err)
	}
	if n := s.records(); n != 1 {
		t.Fatalf("%d records after MaxTTL, want only the fresh one", n)
	}
}

// TestGetHitDoesNotAllocate is PITFALLS 10 for L1: the hit path returns the
// stored entry without copying it.
func TestGetHitDoesNotAllocate(t *testing.T) {
	s := newStore(t, Config{})
	ctx := context.Background()
	if err := s.Set(ctx, "t", "k", entryOf(2048, 0, "a", "b"), time.Minute); err != nil {
		t.Fatal(err)
	}
	// An invalidation of another tag forces the per-tag check on this entry.
	if err := s.InvalidateTags(ctx, "t", []string{"other"}); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if e, _, _ := s.Get(ctx, "t", "k"); e == nil {
			t.Fatal("miss")
		}
	})
	if allocs != 0 {
		t.Fatalf("Get hit allocates %.1f times", allocs)
	}
}

func BenchmarkGetHitParallel(b *testing.B) {
	s := newStore(b, Config{})
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("t|GET https://example.com/companies/%d", i)
		if err := s.Set(ctx, "t", keys[i], entryOf(2048, 0, "company", fmt.Sprint("company:", i)), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if e, _, _ := s.Get(ctx, "t", keys[i&1023]); e == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
}
