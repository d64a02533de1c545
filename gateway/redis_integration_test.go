package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/internal/testenv"
)

func redisL2(t testing.TB, addrs ...string) *redisstore.Store {
	t.Helper()
	cfg := redisstore.Config{Addrs: addrs, Cooldown: 100 * time.Millisecond}
	rdb, err := redisstore.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two instances on one real Redis: an L2 hit fills L1; InvalidateTags
// makes the next request a miss in both layers.
func TestRedisL2SharedByInstances(t *testing.T) {
	r := testenv.StartRedis(t)
	o := startOrigin(t, cacheable("max-age=60", "shared"))
	l2 := redisL2(t, r.Addr)
	a := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	b := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	wantStatus(t, a.get(t, "/"), "fwd=uri-miss", "stored")
	wantStatus(t, b.get(t, "/"), "hit; detail=l2")
	wantStatus(t, b.get(t, "/"), "hit; detail=l1")
	if err := b.InvalidateTags(context.Background(), "acme", "company:acme"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.get(t, "/"), "fwd=uri-miss") // L1 and L2 both dropped it
	// a's L1 is the coordinator's to invalidate on every instance:
	if err := a.InvalidateLocal(context.Background(), invalidationRequest("acme", "company:acme")); err != nil {
		t.Fatal(err)
	}
	// b refilled L2 after the invalidation: a gets that fresh copy.
	wantStatus(t, a.get(t, "/"), "hit; detail=l2")
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
}

// A killed Redis changes nothing for the client; the gateway recovers by
// itself once Redis is back.
func TestRedisOutageAndRecovery(t *testing.T) {
	r := testenv.StartRedis(t)
	o := startOrigin(t, cacheable("max-age=60", "ok"))
	l2 := redisL2(t, r.Addr)
	a := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	wantStatus(t, a.get(t, "/warm"), "stored")
	r.Stop()
	for i := range 5 {
		p := fmt.Sprintf("/down/%d", i)
		// A generic miss: L2 failed its lookup, so what it holds is unknown.
		for _, want := range []string{"fwd=miss", "hit; detail=l1"} {
			res := a.get(t, p)
			if res.status != http.StatusOK || res.body != "ok" {
				t.Fatalf("%s during outage: %d %q", p, res.status, res.body)
			}
			wantStatus(t, res, want)
		}
	}
	wantStatus(t, a.get(t, "/warm"), "hit; detail=l1")
	if err := a.InvalidateTags(context.Background(), "acme", "company"); err == nil {
		t.Fatal("invalidation during an outage must report the L2 failure")
	}
	r.Restart()
	b := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	testenv.WaitFor(t, 10*time.Second, func() error {
		a.get(t, "/back") // fills L2 once the store uses Redis again
		if res := b.get(t, "/back"); !strings.Contains(res.cacheStatus(), "detail=l2") {
			return fmt.Errorf("L2 not used yet: %s", res.cacheStatus())
		}
		return nil
	})
}

func TestRedisFillLockAcrossInstances(t *testing.T) {
	r := testenv.StartRedis(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	o := startOrigin(t, func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		<-release
		cacheable("max-age=60", "once")(w, req)
	})
	l2 := redisL2(t, r.Addr)
	a := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	b := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	done := make(chan result, 2)
	go func() { done <- a.get(t, "/x") }()
	<-entered
	go func() { done <- b.get(t, "/x") }()
	// b waits once its lock attempt found a's lock held.
	waitWaiting(t, b.Gateway, 1)
	close(release)
	r1, r2 := <-done, <-done
	if r1.body != "once" || r2.body != "once" || o.requests.Load() != 1 {
		t.Fatalf("bodies %q %q, origin %d", r1.body, r2.body, o.requests.Load())
	}
}

// A holder whose origin hangs: the instance waiting on its fill lock gets
// the timeout when the holder does, without asking the origin itself.
func TestRedisFillLockHandsOnFailure(t *testing.T) {
	r := testenv.StartRedis(t)
	entered := make(chan struct{}, 4)
	o := startOrigin(t, func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		<-req.Context().Done()
	})
	l2 := redisL2(t, r.Addr)
	// The fetch outlasts the lock's TTL: the holder keeps it alive.
	const timeout = 2 * time.Second
	mod := func(c *gateway.Config) {
		c.L2, c.FillLock, c.OriginTimeout, c.LockTTL = l2, l2, timeout, 600*time.Millisecond
	}
	a, b := startGateway(t, o, mod), startGateway(t, o, mod)
	done := make(chan result, 2)
	start := time.Now()
	go func() { done <- a.get(t, "/hang") }()
	<-entered
	go func() { done <- b.get(t, "/hang") }()
	waitWaiting(t, b.Gateway, 1)
	if time.Since(start) >= timeout {
		t.Fatal("b waited only after a's timeout: the test proves nothing")
	}
	r1, r2 := <-done, <-done
	took := time.Since(start)
	for _, res := range []result{r1, r2} {
		if res.status != http.StatusGatewayTimeout {
			t.Fatalf("got %d %q", res.status, res.cacheStatus())
		}
	}
	if !strings.Contains(r1.cacheStatus()+r2.cacheStatus(), "collapsed") {
		t.Fatalf("no collapsed answer: %q %q", r1.cacheStatus(), r2.cacheStatus())
	}
	if got := o.requests.Load(); got != 1 || took > 3*timeout {
		t.Fatalf("origin saw %d requests (want 1), both answered after %v", got, took)
	}
}

// An unstored 5xx the fill lock's holder got reaches the waiter on another
// instance as that status, at once, not as a fetch of its own.
func TestRedisFillLockHandsOn5xx(t *testing.T) {
	r := testenv.StartRedis(t)
	entered, release := make(chan struct{}, 4), make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	l2 := redisL2(t, r.Addr)
	mod := func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 }
	a, b := startGateway(t, o, mod), startGateway(t, o, mod)
	done := make(chan result, 2)
	go func() { done <- a.get(t, "/busy") }()
	<-entered
	go func() { done <- b.get(t, "/busy") }()
	waitWaiting(t, b.Gateway, 1)
	close(release)
	r1, r2 := <-done, <-done
	for _, res := range []result{r1, r2} {
		if res.status != http.StatusServiceUnavailable {
			t.Fatalf("got %d %q", res.status, res.cacheStatus())
		}
	}
	if !strings.Contains(r1.cacheStatus()+r2.cacheStatus(), "collapsed") {
		t.Fatalf("no collapsed answer: %q %q", r1.cacheStatus(), r2.cacheStatus())
	}
	if got := o.requests.Load(); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
}

// An answer the fill lock's holder will not store (private) lets the
// other instance's waiter go at its header, not when the holder's client
// has its whole body: the holder's origin holds the rest of its body and
// its client reads nothing until the waiter is answered, by the origin.
func TestRedisFillLockLetsGoOfAnUnstoredAnswer(t *testing.T) {
	r := testenv.StartRedis(t)
	entered, header, rest := make(chan struct{}, 4), make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	o := startOrigin(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age=60")
		if !first.CompareAndSwap(false, true) {
			io.WriteString(w, "own")
			return
		}
		entered <- struct{}{}
		<-header
		io.WriteString(w, "half ")
		w.(http.Flusher).Flush()
		<-rest
		io.WriteString(w, "and the rest")
	})
	l2 := redisL2(t, r.Addr)
	a := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	b := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	go func() {
		resp := a.open(t, "/mine")
		<-rest
		io.Copy(io.Discard, resp.Body)
	}()
	<-entered
	done := make(chan result, 1)
	go func() { done <- b.get(t, "/mine") }()
	waitWaiting(t, b.Gateway, 1)
	close(header)
	select {
	case res := <-done:
		if res.body != "own" {
			t.Fatalf("the waiter got %q, want its own answer from the origin", res.body)
		}
	case <-time.After(10 * time.Second):
		close(rest)
		t.Fatal("the other instance's waiter still waits while the holder's client reads its body")
	}
	close(rest)
}
