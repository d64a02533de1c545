package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/entrycodec"
	"github.com/cachegate/cachegate/gateway/storetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

func client(t testing.TB, cfg Config) redis.UniversalClient {
	t.Helper()
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func store(t testing.TB, rdb redis.UniversalClient, cfg Config) *Store {
	t.Helper()
	s, err := New(rdb, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slowMachine is the timeout of tests that are not about timeouts, so a
// loaded machine does not fail them.
const slowMachine = 2 * time.Second

// conformance runs the shared suite, one key prefix per subtest.
func conformance(t *testing.T, rdb redis.UniversalClient) {
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) gateway.Store {
		return store(t, rdb, Config{Prefix: fmt.Sprint("cg", n.Add(1))})
	})
}

func TestConformanceSingle(t *testing.T) {
	r := testenv.StartRedis(t)
	conformance(t, client(t, Config{URL: "redis://" + r.Addr + "/0", ReadTimeout: slowMachine, WriteTimeout: slowMachine}))
}

// TestConformanceCluster runs the suite on a real three-master Redis
// Cluster (PITFALLS 8): each subtest's tenants hash to different slots, and
// every multi-key script must stay within its tenant's slot.
func TestConformanceCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	rdb := client(t, Config{Addrs: c.Addrs, ReadTimeout: slowMachine, WriteTimeout: slowMachine})
	conformance(t, rdb)

	// The suite's tenants really were spread over the nodes.
	cc := rdb.(*redis.ClusterClient)
	nodes := map[string]bool{}
	for _, tenant := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		slot := redisSlot(t, cc, "{cg1:"+tenant+"}:g")
		nodes[nodeOf(t, cc, slot)] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("8 tenants landed on %d node(s); the cluster test proves nothing", len(nodes))
	}
}

func redisSlot(t *testing.T, cc *redis.ClusterClient, key string) int64 {
	t.Helper()
	slot, err := cc.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

func nodeOf(t *testing.T, cc *redis.ClusterClient, slot int64) string {
	t.Helper()
	slots, err := cc.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) {
			return s.Nodes[0].Addr
		}
	}
	t.Fatalf("slot %d unassigned", slot)
	return ""
}

// TestEveryKeyHasATTL is PITFALLS 8's "TTL not set": entries, tag records,
// floors and locks expire; only the per-tenant counter persists.
func TestEveryKeyHasATTL(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{MaxTTL: time.Hour})
	ctx := context.Background()
	e := &gateway.Entry{Status: 200, Body: []byte("x"), Tags: []string{"a", "b"}}
	if err := s.Set(ctx, "acme", "k", e, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTags(ctx, "acme", []string{"other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTenant(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if f, err := s.Acquire(ctx, "acme", "k", time.Second); err != nil || !f.Acquired {
		t.Fatalf("Acquire: %v %v", f.Acquired, err)
	}
	keys, err := rdb.Keys(ctx, "*").Result() // test inspection only; the store never scans
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 6 {
		t.Fatalf("keys %v, want entry, 2 counters, tag record, floor, lock", keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(k, "}:g"):
			if ttl != -1 {
				t.Errorf("%s: counter has ttl %v, want none", k, ttl)
			}
		case strings.Contains(k, "}:e:"):
			if ttl <= 0 || ttl > time.Hour {
				t.Errorf("%s: entry ttl %v, want clamped to MaxTTL 1h", k, ttl)
			}
		case ttl <= 0 || ttl > time.Hour+recordMargin:
			t.Errorf("%s: ttl %v, want within MaxTTL+margin", k, ttl)
		}
	}
}

// TestDeadEntriesAreDeletedOnRead: lazy deletion keeps Redis from holding
// dead entries until their TTL when they are read.
func TestDeadEntriesAreDeletedOnRead(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	if err := s.Set(ctx, "acme", "k", &gateway.Entry{Status: 200, Tags: []string{"a"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTags(ctx, "acme", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if e, _, err := s.Get(ctx, "acme", "k"); err != nil || e != nil {
		t.Fatalf("Get = %v, %v; want a miss", e, err)
	}
	if n, _ := rdb.Exists(ctx, "{cg:acme}:e:k").Result(); n != 0 {
		t.Fatal("dead entry still stored after it was read")
	}
}

// TestLostCounterKillsEntries: if the counter is lost while entries
// survive (eviction, a partial restore), the entries must not become
// immune to invalidation.
func TestLostCounterKillsEntries(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	for range 3 {
		if err := s.InvalidateTags(ctx, "acme", []string{"x"}); err != nil {
			t.Fatal(err)
		}
	}
	_, g, _ := s.Get(ctx, "acme", "k")
	if err := s.Set(ctx, "acme", "k", &gateway.Entry{Status: 200, Tags: []string{"a"}, FetchGen: g}, time.Minute); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, "{cg:acme}:g")
	if e, _, _ := s.Get(ctx, "acme", "k"); e != nil {
		t.Fatal("entry from a lost generation was served")
	}
}

// TestFillAcrossAnEmptyRestartIsNotStored: a fetch begins, its tag is
// invalidated, Redis restarts empty (the invalidation's record is gone)
// and is invalidated once more, then the fill arrives. Its FetchGen is
// ahead of the new counter: it must not be stored, or the content from
// before the first invalidation would be served.
func TestFillAcrossAnEmptyRestartIsNotStored(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	for range 3 {
		if err := s.InvalidateTags(ctx, "acme", []string{"x"}); err != nil {
			t.Fatal(err)
		}
	}
	_, fetchGen, _ := s.Get(ctx, "acme", "k") // the fetch begins
	if err := s.InvalidateTags(ctx, "acme", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	r.Restart()
	if err := rdb.Ping(ctx).Err(); err != nil { // reconnect
		t.Fatal(err)
	}
	s = store(t, rdb, Config{}) // a fresh breaker: the restart opened it
	if err := s.InvalidateTags(ctx, "acme", []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "acme", "k", &gateway.Entry{Status: 200, Tags: []string{"a"}, FetchGen: fetchGen}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := s.Get(ctx, "acme", "k"); e != nil {
		t.Fatal("a fill begun before an invalidation lost in a restart was stored and served")
	}
}

func TestUndecodableEntryIsAMiss(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	for name, fields := range map[string][]any{
		"garbage blob":      {"g", "0", "t", "", "b", "garbage"},
		"no generation":     {"t", "", "b", string(entrycodec.Encode(&gateway.Entry{Status: 200}))},
		"no tags field":     {"g", "0", "b", string(entrycodec.Encode(&gateway.Entry{Status: 200}))},
		"bad generation":    {"g", "x", "t", "", "b", string(entrycodec.Encode(&gateway.Entry{Status: 200}))},
		"not a hash at all": nil,
	} {
		if fields == nil {
			rdb.Set(ctx, "{cg:acme}:e:k", "a string", time.Minute)
		} else {
			rdb.Del(ctx, "{cg:acme}:e:k")
			rdb.HSet(ctx, "{cg:acme}:e:k", fields...)
		}
		e, _, err := s.Get(ctx, "acme", "k")
		if fields == nil {
			// WRONGTYPE: an error, but not an outage.
			if err == nil || errors.Is(err, gateway.ErrUnavailable) {
				t.Errorf("%s: Get error %v", name, err)
			}
			continue
		}
		if err != nil || e != nil {
			t.Errorf("%s: Get = %v, %v; want a plain miss", name, e, err)
		}
		if n, _ := rdb.Exists(ctx, "{cg:acme}:e:k").Result(); n != 0 {
			t.Errorf("%s: undecodable entry not deleted", name)
		}
	}
}

func TestBadArguments(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store(t, client(t, Config{Addrs: []string{r.Addr}}), Config{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"empty tenant":   s.Delete(ctx, "", "k"),
		"brace tenant":   s.InvalidateTenant(ctx, "a}b"),
		"newline tag":    s.Set(ctx, "t", "k", &gateway.Entry{Tags: []string{"a\nb"}}, time.Minute),
		"empty tag":      s.Set(ctx, "t", "k", &gateway.Entry{Tags: []string{""}}, time.Minute),
		"lock zero ttl":  func() error { _, err := s.Acquire(ctx, "t", "k", 0); return err }(),
		"get bad tenant": func() error { _, _, err := s.Get(ctx, "{x", "k"); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if errors.Is(err, gateway.ErrUnavailable) {
			t.Errorf("%s: %v is a usage error, not unavailability", name, err)
		}
	}
}

func TestFillLock(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	a, b := store(t, rdb, Config{}), store(t, rdb, Config{}) // two instances
	ctx := context.Background()

	fa, err := a.Acquire(ctx, "acme", "k", time.Minute)
	if err != nil || !fa.Acquired {
		t.Fatalf("first Acquire: %+v, %v", fa, err)
	}
	if f, err := b.Acquire(ctx, "acme", "k", time.Minute); err != nil || f.Acquired || f.Release != nil || f.Failed != 0 {
		t.Fatalf("second Acquire while held: %+v, %v", f, err)
	}
	if f, _ := b.Acquire(ctx, "acme", "other", time.Minute); !f.Acquired {
		t.Fatal("lock of another key not acquired")
	}
	fa.Release(0, 0)
	fb, err := b.Acquire(ctx, "acme", "k", time.Minute)
	if err != nil || !fb.Acquired {
		t.Fatalf("Acquire after release: %+v, %v", fb, err)
	}
	// A stale holder's release must neither free nor mark the new
	// holder's lock.
	fa.Release(0, 0)
	fa.Release(504, time.Minute)
	if f, _ := a.Acquire(ctx, "acme", "k", time.Minute); f.Acquired || f.Failed != 0 {
		t.Fatalf("a stale release changed another holder's lock: %+v", f)
	}
	fb.Release(0, 0)

	// A holder re-arms its lock; once lost, Refresh says so.
	fr, _ := a.Acquire(ctx, "acme", "long", time.Second)
	k, _ := a.keys("acme")
	testenv.WaitFor(t, 5*time.Second, func() error {
		if pttl, _ := rdb.PTTL(ctx, k.lock("long")).Result(); pttl > 800*time.Millisecond {
			return fmt.Errorf("ttl still %v", pttl)
		}
		return nil
	})
	if err := fr.Refresh(ctx); err != nil {
		t.Fatalf("Refresh of a held lock: %v", err)
	}
	if pttl, _ := rdb.PTTL(ctx, k.lock("long")).Result(); pttl <= 800*time.Millisecond {
		t.Fatalf("Refresh did not re-arm the ttl: %v", pttl)
	}
	rdb.Del(ctx, k.lock("long"))
	fo, _ := b.Acquire(ctx, "acme", "long", time.Minute)
	if err := fr.Refresh(ctx); err == nil || !fo.Acquired {
		t.Fatal("Refresh of a lost lock succeeded")
	}
	if pttl, _ := rdb.PTTL(ctx, k.lock("long")).Result(); pttl <= 30*time.Second {
		t.Fatalf("a lost lock's Refresh changed the new holder's ttl: %v", pttl)
	}

	// The lock expires by itself (a holder that died).
	if f, _ := a.Acquire(ctx, "acme", "ttl", 100*time.Millisecond); !f.Acquired {
		t.Fatal("not acquired")
	}
	waitAcquired(t, b, "ttl")
}

// waitAcquired waits until s takes the fill lock of key, and releases it.
func waitAcquired(t *testing.T, s *Store, key string) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		f, err := s.Acquire(context.Background(), "acme", key, time.Minute)
		if err != nil {
			return err
		}
		if !f.Acquired {
			return errors.New("lock still held")
		}
		f.Release(0, 0)
		return nil
	})
}

// A holder whose fetch failed leaves its outcome for hold: other
// instances read it instead of fetching again, then take the lock.
func TestFillLockFailure(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	a, b := store(t, rdb, Config{}), store(t, rdb, Config{})
	ctx := context.Background()

	fa, err := a.Acquire(ctx, "acme", "k", time.Minute)
	if err != nil || !fa.Acquired {
		t.Fatalf("Acquire: %+v, %v", fa, err)
	}
	if f, _ := b.Acquire(ctx, "acme", "k", time.Minute); f.Acquired || f.Failed != 0 {
		t.Fatalf("while fetching: %+v", f)
	}
	fa.Release(504, 300*time.Millisecond)
	if f, _ := b.Acquire(ctx, "acme", "k", time.Minute); f.Acquired || f.Failed != 504 {
		t.Fatalf("after the failure: %+v, want failed 504", f)
	}
	k, _ := a.keys("acme")
	pttl, err := rdb.PTTL(ctx, k.lock("k")).Result()
	if err != nil || pttl <= 0 || pttl > 300*time.Millisecond {
		t.Fatalf("failure held for %v (%v), want at most the hold", pttl, err)
	}
	waitAcquired(t, b, "k")
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"url", Config{URL: "redis://user:secret@127.0.0.1:6379/2"}, true},
		{"addrs", Config{Addrs: []string{"127.0.0.1:6379"}}, true},
		{"cluster", Config{Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}}, true},
		{"sentinel", Config{Addrs: []string{"127.0.0.1:26379"}, MasterName: "mymaster"}, true},
		{"sentinel url", Config{URL: "redis-sentinel://:secret@127.0.0.1:26379/mymaster"}, true},
		{"sentinel url without master", Config{URL: "redis-sentinel://:secret@127.0.0.1:26379"}, false},
		{"neither", Config{}, false},
		{"both", Config{URL: "redis://127.0.0.1:6379", Addrs: []string{"127.0.0.1:6379"}}, false},
		{"bad addr", Config{Addrs: []string{"localhost"}}, false},
		{"bad url", Config{URL: "http://user:secret@x"}, false},
		{"brace prefix", Config{Addrs: []string{"h:1"}, Prefix: "a{b"}, false},
		{"negative ttl", Config{Addrs: []string{"h:1"}, MaxTTL: -1}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rdb, err := NewClient(c.cfg)
			if (err == nil) != c.ok {
				t.Fatalf("NewClient: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
			if rdb != nil {
				rdb.Close()
			}
		})
	}
	// The kinds of client.
	for cfg, want := range map[*Config]string{
		{Addrs: []string{"h:1"}}:                   "*redis.Client",
		{Addrs: []string{"h:1", "h:2"}}:            "*redis.ClusterClient",
		{Addrs: []string{"h:1"}, Cluster: true}:    "*redis.ClusterClient",
		{Addrs: []string{"h:1"}, MasterName: "m"}:  "*redis.Client",
		{URL: "rediss://h:1/3", Username: "other"}: "*redis.Client",
		{URL: "redis-sentinel://:pw@h:1,h:2/m/1"}:  "*redis.Client", // a failover client
	} {
		rdb, err := NewClient(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprintf("%T", rdb); got != want {
			t.Errorf("%+v: client %s, want %s", *cfg, got, want)
		}
		rdb.Close()
	}
	if _, err := New(nil, Config{}, nil); err == nil {
		t.Error("New with a nil client succeeded")
	}
}

// blackhole accepts connections and never answers: a hung Redis.
func blackhole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkGetHit is one L2 hit of a 2 KiB entry with three tags, after an
// invalidation of another tag (so the script reads the tag records too).
func BenchmarkGetHit(b *testing.B) {
	r := testenv.StartRedis(b)
	s := store(b, client(b, Config{Addrs: []string{r.Addr}}), Config{})
	ctx := context.Background()
	_, gen, err := s.Get(ctx, "acme", "k")
	if err != nil {
		b.Fatal(err)
	}
	e := &gateway.Entry{
		Status:   200,
		Body:     make([]byte, 2048),
		Tags:     []string{"company", "company:1", "url:/companies/1"},
		FetchGen: gen,
	}
	e.SetHeader(http.Header{"Content-Type": {"text/html"}, "Etag": {`"abc"`}})
	if err := s.Set(ctx, "acme", "k", e, time.Hour); err != nil {
		b.Fatal(err)
	}
	if err := s.InvalidateTags(ctx, "acme", []string{"other"}); err != nil {
		b.Fatal(err)
	}
	get := func() {
		if got, _, err := s.Get(ctx, "acme", "k"); err != nil || got == nil {
			b.Fatalf("Get: %v, %v", got, err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get()
			}
		})
	})
}

// TestGetAfterScriptFlush: Get sends the script by hash; a server that
// lost its script cache (restart, SCRIPT FLUSH, a failover) is sent the
// script itself, and the hit is still a hit.
func TestGetAfterScriptFlush(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	// A fill carries the generation its fetch began at.
	_, g, err := s.Get(ctx, "acme", "k")
	if err != nil {
		t.Fatal(err)
	}
	want := &gateway.Entry{Status: 200, Body: []byte("body"), Tags: []string{"a"}, FetchGen: g}
	if err := s.Set(ctx, "acme", "k", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		e, _, err := s.Get(ctx, "acme", "k")
		if err != nil || e == nil || string(e.Body) != "body" {
			t.Fatalf("Get %d after SCRIPT FLUSH = %v, %v; want the entry", i, e, err)
		}
	}
}

// TestCounterOfANeverInvalidatedTenantExpires: reads and fills of a
// tenant never invalidated (any Host can name one) leave no key without a
// TTL; its first invalidation makes the counter permanent.
func TestCounterOfANeverInvalidatedTenantExpires(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}})
	s := store(t, rdb, Config{})
	ctx := context.Background()
	_, g, err := s.Get(ctx, "junk-host", "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "junk-host", "k", &gateway.Entry{Status: 200, Tags: []string{"a"}, FetchGen: g}, time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl := func() time.Duration {
		d, err := rdb.PTTL(ctx, "{cg:junk-host}:g").Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ttl(); d <= 0 || d > DefaultMaxTTL+recordMargin {
		t.Fatalf("counter of a tenant never invalidated: TTL %v, want one up to %v", d, DefaultMaxTTL+recordMargin)
	}
	if err := s.InvalidateTags(ctx, "junk-host", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if d := ttl(); d != -1 {
		t.Fatalf("counter after an invalidation: TTL %v, want none (-1)", d)
	}
}
