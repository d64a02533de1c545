package memstore

// Measurements behind the choice of otter v2 over ristretto v2 (doc.go):
// memory per 2 KiB entry and a get-heavy parallel workload, both libraries
// holding the same *item values under the same byte bound.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/maypok86/otter/v2"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// entry2KiB is a typical small page: a 2 KiB body, the headers an origin
// sends, and a few tags.
func entry2KiB(i int) *gateway.Entry {
	now := time.Now()
	e := &gateway.Entry{
		Status:       200,
		Body:         make([]byte, 2048),
		Tags:         []string{"company", fmt.Sprint("company:", i), fmt.Sprint("url:/companies/", i)},
		RequestTime:  now,
		ResponseTime: now,
	}
	e.SetHeader(http.Header{
		"Content-Type":  {"text/html; charset=utf-8"},
		"Cache-Control": {"public, max-age=300"},
		"Etag":          {fmt.Sprintf(`"%08x"`, i)},
	})
	return e
}

func key2KiB(i int) string { return fmt.Sprint("acme|GET https://example.com/companies/", i) }

// perEntry returns the heap bytes per entry that fill(n) adds and keeps.
func perEntry(n int, fill func(n int) any) float64 {
	before := testenv.HeapInUse()
	held := fill(n)
	after := testenv.HeapInUse()
	runtime.KeepAlive(held)
	return float64(after-before) / float64(n)
}

const memEntries = 20_000

// TestMemoryPer2KiBEntry is the target: a 2 KiB entry costs under
// 3 KiB of L1 memory, everything included (key, entry, headers, tags, cache
// bookkeeping). The bare entries are measured too, to show the overhead.
func TestMemoryPer2KiBEntry(t *testing.T) {
	bare := perEntry(memEntries, func(n int) any {
		keep := make([]*gateway.Entry, n)
		keys := make([]string, n)
		for i := range n {
			keep[i], keys[i] = entry2KiB(i), key2KiB(i)
		}
		return []any{keep, keys}
	})
	store := perEntry(memEntries, func(n int) any { return filledStore(t, n) })
	rist := perEntry(memEntries, func(n int) any {
		c := newRistretto(t)
		for i := range n {
			it := &item{e: entry2KiB(i), ttl: time.Hour}
			c.SetWithTTL(key2KiB(i), it, int64(it.e.Size()), time.Hour)
		}
		c.Wait()
		return c
	})
	t.Logf("bytes per 2 KiB entry over %d entries: bare entry+key %.0f, memstore (otter) %.0f, ristretto %.0f",
		memEntries, bare, store, rist)
	if store >= 3072 {
		t.Fatalf("memstore costs %.0f bytes per 2 KiB entry, want under 3072", store)
	}
}

// filledStore is a default Store holding n typical 2 KiB entries.
func filledStore(t *testing.T, n int) *Store {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Set(context.Background(), "acme", key2KiB(i), entry2KiB(i), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	s.cache.CleanUp()
	if got := s.cache.EstimatedSize(); got != n {
		t.Fatalf("otter holds %d entries, want %d", got, n)
	}
	return s
}

// TestAccountingMatchesMemory: the bytes the store counts against MaxBytes
// are what the process holds for its entries, within 10%, so that the
// budget bounds memory (an undercount lets the process outgrow it).
func TestAccountingMatchesMemory(t *testing.T) {
	var accounted float64
	measured := perEntry(memEntries, func(n int) any {
		s := filledStore(t, n)
		accounted = float64(s.WeightedSize()) / float64(n)
		return s
	})
	t.Logf("per 2 KiB entry: accounted %.0f bytes, measured %.0f", accounted, measured)
	if r := accounted / measured; r < 0.9 || r > 1.1 {
		t.Fatalf("accounted %.0f bytes per entry for %.0f measured (ratio %.2f), want within 10%%", accounted, measured, r)
	}
}

func newRistretto(t testing.TB) *ristretto.Cache[string, *item] {
	c, err := ristretto.NewCache(&ristretto.Config[string, *item]{
		NumCounters: 10 * memEntries,
		MaxCost:     DefaultMaxBytes,
		BufferItems: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// BenchmarkLibrary runs the same get-heavy workload (15 gets per set,
// 10,000 keys, skewed towards a hot set) on both libraries in parallel.
func BenchmarkLibrary(b *testing.B) {
	const keys = 10_000
	ks := make([]string, keys)
	items := make([]*item, keys)
	for i := range keys {
		ks[i] = key2KiB(i)
		items[i] = &item{e: entry2KiB(i), ttl: time.Hour}
	}
	// Square of a uniform variate: most reads go to the low keys.
	pick := func(r *rand.Rand) int { f := r.Float64(); return int(f * f * keys) }

	b.Run("otter", func(b *testing.B) {
		c := otter.Must(&otter.Options[string, *item]{
			MaximumWeight:    DefaultMaxBytes,
			Weigher:          func(k string, it *item) uint32 { return uint32(it.e.Size() + len(k)) },
			ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *item]) time.Duration { return e.Value.ttl }),
		})
		defer c.StopAllGoroutines()
		for i := range keys {
			c.Set(ks[i], items[i])
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for n := 0; pb.Next(); n++ {
				i := pick(r)
				if n%16 == 0 {
					c.Set(ks[i], items[i])
				} else {
					c.GetIfPresent(ks[i])
				}
			}
		})
	})
	b.Run("ristretto", func(b *testing.B) {
		c := newRistretto(b)
		for i := range keys {
			c.SetWithTTL(ks[i], items[i], int64(items[i].e.Size()), time.Hour)
		}
		c.Wait()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for n := 0; pb.Next(); n++ {
				i := pick(r)
				if n%16 == 0 {
					c.SetWithTTL(ks[i], items[i], int64(items[i].e.Size()), time.Hour)
				} else {
					c.Get(ks[i])
				}
			}
		})
	})
}
