package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// slowOrigin answers "v<n>" fresh for ten seconds after taking fetch to
// answer, with no Date (the gateway dates it with its own clock, which the
// tests move); with gate set, each request after the first waits on it.
type slowOrigin struct {
	n       atomic.Int64
	fetch   time.Duration
	gate    chan struct{}
	entered chan struct{}
}

func (s *slowOrigin) handler(w http.ResponseWriter, r *http.Request) {
	n := s.n.Add(1)
	time.Sleep(s.fetch)
	if s.gate != nil && n > 1 {
		s.entered <- struct{}{}
		<-s.gate
	}
	w.Header()["Date"] = nil
	w.Header().Set("Cache-Control", "max-age=10")
	io.WriteString(w, fmt.Sprint("v", n))
}

func waitRefreshed(t *testing.T, g *gateway.Gateway) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := gateway.Refreshing(g); n > 0 {
			return fmt.Errorf("%d refreshes running", n)
		}
		return nil
	})
}

// A hot URL requested steadily across several expiries is refreshed in
// the background before each one (XFetch): no request waits on the origin.
// Without early refresh, the same traffic misses at every expiry.
func TestEarlyRefreshKeepsAHotURLFresh(t *testing.T) {
	for _, c := range []struct {
		name       string
		beta       float64
		wantMisses bool
	}{{"early refresh", 100, false}, {"off", -1, true}} {
		t.Run(c.name, func(t *testing.T) {
			so := &slowOrigin{fetch: 20 * time.Millisecond}
			o := startOrigin(t, so.handler)
			g := startGateway(t, o, func(cfg *gateway.Config) { cfg.EarlyRefreshBeta = c.beta })
			// ln(0.5) ≈ −0.69: with beta 100 and a fetch of at least 20
			// ms, a hit refreshes within at least 1.38 s of expiry, more
			// than the second between requests.
			gateway.SetRand(g.Gateway, func() float64 { return 0.5 })
			wantStatus(t, g.get(t, "/hot"), "stored")
			misses := 0
			for i := range 45 { // 45 s of gateway time: 4 expiries
				g.advance(time.Second)
				res := g.get(t, "/hot")
				if !strings.Contains(res.cacheStatus(), "hit") {
					misses++
					if !c.wantMisses {
						t.Fatalf("request %d waited on the origin: %s", i, res.cacheStatus())
					}
				}
				waitRefreshed(t, g.Gateway)
			}
			if c.wantMisses && misses < 4 {
				t.Fatalf("%d misses without early refresh, want one per expiry: the test proves nothing", misses)
			}
			if n := o.requests.Load(); n < 5 {
				t.Fatalf("origin saw %d requests, want a refresh per expiry", n)
			}
		})
	}
}

// Two instances sharing Redis both decide to refresh early: one does, the
// other leaves it to the holder of the fill lock.
func TestEarlyRefreshOnceAcrossInstances(t *testing.T) {
	r := testenv.StartRedis(t)
	so := &slowOrigin{gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	o := startOrigin(t, so.handler)
	release := releaser(t, so.gate)
	l2 := redisL2(t, r.Addr)
	// A beta this large makes every hit refresh early, whatever the
	// (local, fast) fetch took.
	mod := func(c *gateway.Config) { c.L2, c.FillLock, c.EarlyRefreshBeta = l2, l2, 1e6 }
	a, b := startGateway(t, o, mod), startGateway(t, o, mod)
	for _, g := range []*gw{a, b} {
		gateway.SetRand(g.Gateway, func() float64 { return 0.5 })
	}
	wantStatus(t, a.get(t, "/hot"), "stored")
	wantStatus(t, a.get(t, "/hot"), "hit")
	select { // a's refresh holds the fill lock
	case <-so.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("a's hit started no early refresh")
	}
	res := b.get(t, "/hot")
	wantStatus(t, res, "hit; detail=l2")
	waitSkipped(t, b.Gateway, 1)
	release()
	waitRefreshed(t, a.Gateway)
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want the fill and one refresh", n)
	}
}
