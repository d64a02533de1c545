package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/storetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// sentinelStore is a store on set's redis-sentinel:// URL, with the
// timeouts of a loaded machine.
func sentinelStore(t *testing.T, set *testenv.RedisSentinel, prefix string) *Store {
	cfg := Config{URL: set.URL(), ReadTimeout: slowMachine, WriteTimeout: slowMachine, DialTimeout: slowMachine,
		Cooldown: 10 * time.Millisecond, Prefix: prefix}
	return store(t, client(t, cfg), cfg)
}

// TestConformanceSentinel runs the suite through go-redis's failover
// client, every invalidation acknowledged by the replica (WAIT).
func TestConformanceSentinel(t *testing.T) {
	set := testenv.StartRedisSentinel(t, 1)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) gateway.Store {
		return sentinelStore(t, set, fmt.Sprint("cg", n.Add(1)))
	})
}

// TestSentinelFailoverKeepsInvalidations kills the primary right after an
// invalidation returned: the replica Sentinel promotes has it, so the
// entry it killed stays dead. And an invalidation the replica has not
// acknowledged is not claimed: it fails, to be retried.
func TestSentinelFailoverKeepsInvalidations(t *testing.T) {
	set := testenv.StartRedisSentinel(t, 1)
	s := sentinelStore(t, set, "cg")
	ctx := context.Background()
	fill := func(key string, tags ...string) {
		t.Helper()
		_, g, err := s.Get(ctx, "acme", key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "acme", key, &gateway.Entry{Status: 200, Body: []byte(key), Tags: tags, FetchGen: g}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	fill("dead", "x")
	fill("live", "y")

	// Not acknowledged: the replica is stopped.
	replica := set.Servers[1]
	replica.Pause()
	err := s.InvalidateTags(ctx, "acme", []string{"other"})
	replica.Resume()
	if !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("invalidation with the replica stopped: %v, want ErrUnavailable (not claimed)", err)
	}

	if err := s.InvalidateTags(ctx, "acme", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	old := set.Primary()
	old.Stop() // right after: nothing more is replicated
	set.AwaitFailover(old, 60*time.Second, 0)
	var got *gateway.Entry
	testenv.WaitFor(t, 30*time.Second, func() error {
		var err error
		got, _, err = s.Get(ctx, "acme", "live")
		if err == nil && got == nil {
			return errors.New("the live entry is gone: not yet on the promoted replica?")
		}
		return err
	})
	if e, _, err := s.Get(ctx, "acme", "dead"); err != nil || e != nil {
		t.Fatalf("after the failover the invalidated entry is back: %v, %v", e, err)
	}
	// L2 works on the new primary with nothing restarted: fills are
	// stored, reads served. (Invalidations wait for a replica again.)
	fill("after", "z")
	if e, _, err := s.Get(ctx, "acme", "after"); err != nil || e == nil {
		t.Fatalf("fill after the failover: %v, %v", e, err)
	}
}
