package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/storetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// slowMachine is the timeout of tests that are not about timeouts, so a
// loaded machine does not fail them.
const slowMachine = 2 * time.Second

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = slowMachine
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func servers(t testing.TB, n int) ([]*testenv.Memcached, []string) {
	var ms []*testenv.Memcached
	var addrs []string
	for range n {
		m := testenv.StartMemcached(t)
		ms = append(ms, m)
		addrs = append(addrs, m.Addr)
	}
	return ms, addrs
}

// TestConformance runs the shared suite on one memcached and on three
// (consistent hashing: a tenant's records and entries spread over them).
func TestConformance(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint(n, "servers"), func(t *testing.T) {
			_, addrs := servers(t, n)
			var i atomic.Int64
			storetest.Run(t, func(t *testing.T) gateway.Store {
				return newStore(t, Config{Servers: addrs, Prefix: fmt.Sprint("cg", i.Add(1)), MaxItemSize: 4 << 20})
			})
		})
	}
}

func entry(body string, gen uint64, tags ...string) *gateway.Entry {
	now := time.Now()
	return &gateway.Entry{Status: http.StatusOK, Body: []byte(body), Tags: tags,
		RequestTime: now, ResponseTime: now, FetchGen: gen}
}

// TestEvictionNeverRevives: whatever record memcached drops (simulated
// here by deleting it, which is what eviction looks like to a client), an
// entry killed by an invalidation stays dead, and a fill whose fetch began
// before the loss is not stored.
func TestEvictionNeverRevives(t *testing.T) {
	_, addrs := servers(t, 2)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		lose func(s *Store, tenant string) // the records memcached drops
	}{
		{"tag record", func(s *Store, tn string) { del(t, s, s.key(kindTag, tn, "x")) }},
		{"generation record", func(s *Store, tn string) { del(t, s, s.key(kindGen, tn, "")) }},
		{"both", func(s *Store, tn string) {
			del(t, s, s.key(kindTag, tn, "x"))
			del(t, s, s.key(kindGen, tn, ""))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t, Config{Servers: addrs, Prefix: "ev" + fmt.Sprint(len(c.name))})
			tn := "acme"
			_, g, err := s.Get(ctx, tn, "page")
			if err != nil {
				t.Fatal(err)
			}
			must(t, s.Set(ctx, tn, "page", entry("old", g, "x"), time.Minute))
			must(t, s.Set(ctx, tn, "other", entry("other", g, "y"), time.Minute))
			_, inflight, _ := s.Get(ctx, tn, "racing") // a fetch that begins now
			must(t, s.InvalidateTags(ctx, tn, []string{"x"}))
			c.lose(s, tn)
			if e, _, err := s.Get(ctx, tn, "page"); err != nil || e != nil {
				t.Fatalf("after losing the %s: got %v, %v; want the invalidated entry to stay dead", c.name, e, err)
			}
			must(t, s.Set(ctx, tn, "racing", entry("stale", inflight, "x"), time.Minute))
			if e, _, err := s.Get(ctx, tn, "racing"); err != nil || e != nil {
				t.Fatalf("a fill begun before the loss was stored: %v, %v", e, err)
			}
			// A fill begun now is stored and served.
			_, g, err = s.Get(ctx, tn, "page")
			must(t, err)
			must(t, s.Set(ctx, tn, "page", entry("new", g, "x"), time.Minute))
			if e, _, err := s.Get(ctx, tn, "page"); err != nil || e == nil || string(e.Body) != "new" {
				t.Fatalf("fresh fill after the loss: %v, %v", e, err)
			}
		})
	}
}

// TestServerRestartIsInvalidation: a server restarting empty loses the
// records it held; every entry that depended on them is dead, none served.
func TestServerRestartIsInvalidation(t *testing.T) {
	ms, addrs := servers(t, 3)
	s := newStore(t, Config{Servers: addrs, Cooldown: time.Millisecond})
	ctx := context.Background()
	const tenants = 12
	for i := range tenants {
		tn := fmt.Sprint("t", i)
		_, g, err := s.Get(ctx, tn, "k")
		must(t, err)
		must(t, s.Set(ctx, tn, "k", entry("v", g, "x"), time.Minute))
		must(t, s.InvalidateTags(ctx, tn, []string{"x"}))
	}
	ms[1].Restart()
	testenv.WaitFor(t, 10*time.Second, func() error { return s.Ping(ctx) })
	for i := range tenants {
		tn := fmt.Sprint("t", i)
		if e, _, err := s.Get(ctx, tn, "k"); err != nil || e != nil {
			t.Fatalf("%s: invalidated entry served after a server restart: %v, %v", tn, e, err)
		}
	}
}

// TestRealEviction fills a small memcached until LRU evicts a tag record
// but not the entry it killed: the entry must stay dead.
func TestRealEviction(t *testing.T) {
	m := testenv.StartMemcached(t, "-m", "8")
	s := newStore(t, Config{Servers: []string{m.Addr}})
	ctx := context.Background()
	raw := s.mc
	_, g, err := s.Get(ctx, "acme", "page")
	must(t, err)
	must(t, s.Set(ctx, "acme", "page", entry("old", g, "x"), time.Minute))
	must(t, s.InvalidateTags(ctx, "acme", []string{"x"}))
	ek, tk := s.key(kindEntry, "acme", "page"), s.key(kindTag, "acme", "x")
	// Fillers shaped like tag records land in their slab class, where
	// memcached's LRU evicts; three times what 8 MiB holds. Nothing reads
	// the record meanwhile: a read would make it recently used.
	filler := []byte("1764547200000000")
	for i := range 250_000 {
		must(t, raw.Set(&memcache.Item{Key: s.key(kindTag, "filler", fmt.Sprint(i)), Value: filler}))
	}
	if _, err := raw.Get(tk); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("memcached did not evict the tag record (%v); the test proves nothing", err)
	}
	if _, err := raw.Get(ek); err != nil {
		t.Fatalf("the entry itself was evicted too (%v); the test proves nothing", err)
	}
	if e, _, err := s.Get(ctx, "acme", "page"); err != nil || e != nil {
		t.Fatalf("entry revived by the eviction of its tag record: %v, %v", e, err)
	}
}

// TestUnreachable: a dead server is an ErrUnavailable at once, and the
// breaker skips it until a probe succeeds.
func TestUnreachable(t *testing.T) {
	m := testenv.StartMemcached(t)
	s := newStore(t, Config{Servers: []string{m.Addr}, Timeout: 200 * time.Millisecond, Cooldown: 50 * time.Millisecond})
	ctx := context.Background()
	m.Stop()
	if _, _, err := s.Get(ctx, "acme", "k"); !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("Get with memcached down: %v, want ErrUnavailable", err)
	}
	if s.Available() {
		t.Fatal("breaker closed after a connection failure")
	}
	m.Restart()
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, _, err := s.Get(ctx, "acme", "k")
		return err
	})
	if !s.Available() {
		t.Fatal("breaker still open after a successful call")
	}
}

func TestTooLarge(t *testing.T) {
	m := testenv.StartMemcached(t)
	s := newStore(t, Config{Servers: []string{m.Addr}})
	e := entry("", 0)
	e.Body = make([]byte, DefaultMaxItemSize)
	if err := s.Set(context.Background(), "acme", "big", e, time.Minute); err == nil {
		t.Fatal("an entry over the item size was accepted")
	}
}

func del(t *testing.T, s *Store, k string) {
	t.Helper()
	if err := s.mc.Delete(k); err != nil {
		t.Fatalf("delete %s: %v", k, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
