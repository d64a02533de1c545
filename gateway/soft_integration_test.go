package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
)

// countingOrigin is an origin whose body is "v<n>", n rising by one per
// request, tagged company:acme; with gate set, each request waits for a
// value on it (after signalling entered).
type countingOrigin struct {
	n       atomic.Int64
	cc      string
	gate    chan struct{}
	entered chan struct{}
}

func (v *countingOrigin) handler(w http.ResponseWriter, r *http.Request) {
	n := v.n.Add(1)
	if v.gate != nil && n > 1 {
		v.entered <- struct{}{}
		<-v.gate
	}
	w.Header().Set("Cache-Control", v.cc)
	w.Header().Set("Surrogate-Key", "company:acme")
	io.WriteString(w, fmt.Sprint("v", n))
}

func softRequest(tags ...string) invalidation.Request {
	r := invalidationRequest("acme", tags...)
	r.Soft = true
	return r
}

// A soft invalidation, on two instances sharing a real Redis: the next
// requests on both are answered from the old entry (fwd=stale, soft, and
// no-store for caches downstream) while exactly one refill runs, on one
// instance, holding the fill lock; once it landed, both serve the new
// content.
func TestSoftInvalidationServesStaleWhileOneRefill(t *testing.T) {
	r := testenv.StartRedis(t)
	v := &countingOrigin{cc: "max-age=60, stale-while-revalidate=30", gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	o := startOrigin(t, v.handler)
	release := releaser(t, v.gate)
	l2 := redisL2(t, r.Addr)
	mod := func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 }
	a, b := startGateway(t, o, mod), startGateway(t, o, mod)
	wantStatus(t, a.get(t, "/p"), "fwd=uri-miss", "stored")
	wantStatus(t, b.get(t, "/p"), "hit; detail=l2")

	ctx := context.Background()
	if err := a.Invalidate(ctx, softRequest("company:acme")); err != nil {
		t.Fatal(err)
	}
	if err := b.InvalidateLocal(ctx, softRequest("company:acme")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		res := a.get(t, "/p")
		if res.body != "v1" {
			t.Fatalf("a during the refill: %q", res.body)
		}
		wantStatus(t, res, "fwd=stale", "detail=l1", "soft")
		wantNoStatus(t, res, "hit")
		if cc := res.header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("soft-stale answer has Cache-Control %q, want no-store", cc)
		}
	}
	<-v.entered // a's refill holds the fill lock
	res := b.get(t, "/p")
	if res.body != "v1" {
		t.Fatalf("b during the refill: %q", res.body)
	}
	wantStatus(t, res, "fwd=stale", "soft")
	waitSkipped(t, b.Gateway, 1) // a holds the lock
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want the fill and one refill", n)
	}
	release()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if res := a.get(t, "/p"); res.body != "v2" {
			return fmt.Errorf("a still serves %q (%s)", res.body, res.cacheStatus())
		}
		return nil
	})
	res = b.get(t, "/p")
	if res.body != "v2" {
		t.Fatalf("b after the refill: %q (%s)", res.body, res.cacheStatus())
	}
	wantStatus(t, res, "hit; detail=l2")
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want 2", n)
	}
}

// Past its stale-while-revalidate window a softly invalidated entry is a
// miss; without a window it is one at once; a hard invalidation stays one.
func TestSoftInvalidationWindow(t *testing.T) {
	cases := []struct {
		name   string
		cc     string
		wait   time.Duration
		soft   bool
		want   string
		status []string
	}{
		{"within the window", "max-age=60, stale-while-revalidate=30", 29 * time.Second, true, "v1", []string{"fwd=stale", "soft"}},
		{"past the window", "max-age=60, stale-while-revalidate=30", 31 * time.Second, true, "v2", []string{"fwd=stale", "stored"}},
		{"no window", "max-age=60", 0, true, "v2", []string{"fwd=stale", "stored"}},
		{"hard", "max-age=60, stale-while-revalidate=30", 0, false, "v2", []string{"fwd=uri-miss", "stored"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testenv.StartRedis(t)
			v := &countingOrigin{cc: c.cc}
			o := startOrigin(t, v.handler)
			l2 := redisL2(t, r.Addr)
			a := startGateway(t, o, func(cfg *gateway.Config) { cfg.L2, cfg.FillLock = l2, l2 })
			wantStatus(t, a.get(t, "/p"), "stored")
			req := invalidationRequest("acme", "company:acme")
			req.Soft = c.soft
			if err := a.Invalidate(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			a.advance(c.wait)
			res := a.get(t, "/p")
			if res.body != c.want {
				t.Fatalf("got %q (%s), want %q", res.body, res.cacheStatus(), c.want)
			}
			wantStatus(t, res, c.status...)
			if c.want == "v2" && res.header.Get("Cache-Control") == "no-store" {
				t.Fatal("a fresh answer is marked no-store")
			}
		})
	}
}
