package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/policy"
)

// autoOrigin is an origin whose body and ETag are "v<version>", tagged
// "gallery" and dated by the gateway's (moved) clock, 304s too; with
// changing, every request moves the version on. A POST is answered 200.
type autoOrigin struct {
	version  atomic.Int64
	changing bool
	g        atomic.Pointer[gw] // the gateway, for its clock
}

func (a *autoOrigin) handler(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		return
	}
	v := a.version.Load()
	if a.changing {
		v = a.version.Add(1)
	}
	etag := fmt.Sprintf(`"v%d"`, v)
	now := time.Now().Add(time.Duration(a.g.Load().clock.Load()))
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("ETag", etag)
	w.Header().Set("Surrogate-Key", "gallery")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	io.WriteString(w, etag)
}

// startAuto starts a gateway whose every request is on the "ttl: auto"
// route "auto" (or per path, through routes) in front of a.
func startAuto(t *testing.T, a *autoOrigin, routes func(*http.Request) (string, *policy.AutoTTL)) *gw {
	t.Helper()
	o := startOrigin(t, a.handler)
	g := startGateway(t, o, func(cfg *gateway.Config) {
		cfg.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
			name, auto := routes(r)
			return policy.Decision{Rule: name, Tenant: "acme", AutoTTL: auto}
		})
	})
	a.g.Store(g)
	return g
}

func oneRoute(auto *policy.AutoTTL) func(*http.Request) (string, *policy.AutoTTL) {
	return func(*http.Request) (string, *policy.AutoTTL) { return "auto", auto }
}

func autoState(t *testing.T, g *gw, route string) gateway.AutoTTL {
	t.Helper()
	for _, a := range g.AutoTTLs() {
		if a.Route == route {
			return a
		}
	}
	t.Fatalf("no state for route %q in %+v", route, g.AutoTTLs())
	return gateway.AutoTTL{}
}

// A "ttl: auto" route learns its TTL from its revalidations: content that
// never changes earns a longer TTL with each 304, content that changes on
// every revalidation stays at a fraction of its change interval, clamped
// to the minimum; the admin state says why.
func TestAutoTTLLearnsFromRevalidations(t *testing.T) {
	cases := []struct {
		name     string
		changing bool
		want     time.Duration
		changes  int
		reason   string
	}{
		// 3 revalidations 200 s apart: 600 s of observed life.
		{"stable", false, 300 * time.Second, 0, "no change in 3 revalidations over 10m of observed life"},
		{"changing", true, 150 * time.Second, 3, "3 found by revalidation, 0 by invalidation event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auto := &policy.AutoTTL{Min: 150 * time.Second, Max: time.Hour, Fraction: 0.5}
			g := startAuto(t, &autoOrigin{changing: c.changing}, oneRoute(auto))
			wantStatus(t, g.get(t, "/a"), "stored", "ttl=150")
			for i := range 3 {
				g.advance(200 * time.Second)
				res := g.get(t, "/a")
				if strings.Contains(res.cacheStatus(), "hit") {
					t.Fatalf("revalidation %d: a hit (%s), want the stale entry revalidated", i, res.cacheStatus())
				}
			}
			got := autoState(t, g, "auto")
			if got.Revalidations != 3 || got.Changes != c.changes || got.EventChanges != 0 || got.Covered {
				t.Fatalf("AutoTTLs %+v, want 3 revalidations, %d changes, none by event", got, c.changes)
			}
			if got.Min != auto.Min || got.Max != auto.Max || got.Fraction != auto.Fraction {
				t.Fatalf("bounds %v %v %v, want the route's", got.Min, got.Max, got.Fraction)
			}
			// Ages are whole seconds plus the time the requests took.
			if d := got.TTL - c.want; d < -2*time.Second || d > 2*time.Second {
				t.Fatalf("TTL %v, want %v (%s)", got.TTL, c.want, got.Reason)
			}
			if !strings.Contains(got.Reason, c.reason) {
				t.Fatalf("reason %q lacks %q", got.Reason, c.reason)
			}
			wantStatus(t, g.get(t, "/a"), "hit")
		})
	}
}

// An invalidation that reaches an auto route's entries is a change of
// those URLs, however it arrives: a tag event on the instance's L1 (the
// coordinator's path), a URL purge, a write through the gateway, or a soft
// event whose refill finds new content. A route whose changes all arrive
// that way is covered: its entries get the maximum TTL.
func TestAutoTTLLearnsFromInvalidations(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name       string
		invalidate func(t *testing.T, g *gw)
		soft       bool
	}{
		{"tag event on L1", func(t *testing.T, g *gw) {
			if err := g.InvalidateLocal(ctx, invalidationRequest("acme", "gallery")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"URL purge", func(t *testing.T, g *gw) {
			if err := g.Invalidate(ctx, invalidation.Request{Tenant: "acme", URLs: []string{"/a"}}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"write through the gateway", func(t *testing.T, g *gw) {
			if res := g.do(t, http.MethodPost, "acme", "/a"); res.status != http.StatusOK {
				t.Fatalf("POST: %d", res.status)
			}
		}, false},
		{"soft event", func(t *testing.T, g *gw) {
			r := invalidationRequest("acme", "gallery")
			r.Soft = true
			if err := g.InvalidateLocal(ctx, r); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &autoOrigin{}
			auto := &policy.AutoTTL{Min: 30 * time.Second, Max: time.Hour, Fraction: 0.5}
			g := startAuto(t, a, oneRoute(auto))
			wantStatus(t, g.get(t, "/a"), "stored", "ttl=30")
			g.advance(20 * time.Second)
			a.version.Add(1)
			c.invalidate(t, g)
			if c.soft {
				// The soft event itself says nothing: its refill does.
				if got := autoState(t, g, "auto"); got.EventChanges != 0 {
					t.Fatalf("after a soft event: %+v, want nothing counted before its refill", got)
				}
				g.get(t, "/a")
				testenv.WaitFor(t, 5*time.Second, func() error {
					if got := autoState(t, g, "auto"); got.EventChanges != 1 {
						return fmt.Errorf("state %+v, want the refill's change counted as announced", got)
					}
					return nil
				})
			}
			got := autoState(t, g, "auto")
			if got.EventChanges != 1 || got.Changes != 0 || !got.Covered || got.TTL != time.Hour {
				t.Fatalf("state %+v, want one change by event, covered, TTL at the maximum", got)
			}
			if d := got.ChangeInterval - 20*time.Second; d < 0 || d > 2*time.Second {
				t.Fatalf("change interval %v, want the entry's life, 20s", got.ChangeInterval)
			}
			if !strings.Contains(got.Reason, "events keep it fresh, TTL at the maximum 1h") {
				t.Fatalf("reason %q", got.Reason)
			}
			// The next fill is stored for the maximum.
			if c.soft {
				g.advance(time.Second) // past the soft refill's entry, fresh for 30s then
			}
			res := g.get(t, "/a")
			if res.body != `"v1"` {
				t.Fatalf("body %q after the change, want the new version", res.body)
			}
			if !c.soft {
				wantStatus(t, res, "stored", "ttl=3600")
			}
			g.advance(30 * time.Minute)
			wantStatus(t, g.get(t, "/a"), "hit")
		})
	}
}

// A change a revalidation finds that no event announced ends coverage:
// the route is back on a fraction of its change interval, counting both.
func TestAutoTTLUncoveredChangeEndsCoverage(t *testing.T) {
	a := &autoOrigin{}
	auto := &policy.AutoTTL{Min: 30 * time.Second, Max: time.Hour, Fraction: 0.5}
	g := startAuto(t, a, oneRoute(auto))
	g.get(t, "/a")
	g.advance(100 * time.Second)
	if err := g.InvalidateLocal(context.Background(), invalidationRequest("acme", "gallery")); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.get(t, "/a"), "stored", "ttl=3600")
	a.version.Add(1) // a change no event announces
	g.advance(time.Hour + 100*time.Second)
	if res := g.get(t, "/a"); res.body != `"v1"` {
		t.Fatalf("revalidation: %q %s, want the new version", res.body, res.cacheStatus())
	}
	got := autoState(t, g, "auto")
	// 100 s + 3,700 s of life, 2 changes: one per 1,900 s, half of it
	// 950 s (then raised for a URL read a few times an hour).
	if got.Covered || got.Changes != 1 || got.EventChanges != 1 {
		t.Fatalf("state %+v, want one change of each kind, not covered", got)
	}
	if got.TTL < 948*time.Second || got.TTL >= time.Hour {
		t.Fatalf("TTL %v, want from about 950s to below the maximum (%s)", got.TTL, got.Reason)
	}
	for _, want := range []string{"changes about every 31m40s", "1 found by revalidation, 1 by invalidation event", "TTL 15m50s = 50% of that"} {
		if !strings.Contains(got.Reason, want) {
			t.Fatalf("reason %q lacks %q", got.Reason, want)
		}
	}
}

// The read rate: two routes with the same changes, one read every ten
// seconds and one read once in the hour after. The busy one keeps a
// fraction of its change interval; the quiet one gets a longer TTL, within
// the staleness target, and says why.
func TestAutoTTLFollowsReadRate(t *testing.T) {
	a := &autoOrigin{}
	auto := &policy.AutoTTL{Min: 10 * time.Second, Max: 24 * time.Hour, Fraction: 0.25}
	g := startAuto(t, a, func(r *http.Request) (string, *policy.AutoTTL) {
		return strings.TrimPrefix(r.URL.Path, "/"), auto
	})
	// Both learn a change every 400 s from three revalidations.
	g.get(t, "/busy")
	g.get(t, "/quiet")
	for range 3 {
		a.version.Add(1)
		g.advance(400 * time.Second)
		g.get(t, "/busy")
		g.get(t, "/quiet")
	}
	for range 360 {
		g.advance(10 * time.Second)
		if res := g.get(t, "/busy"); res.status != http.StatusOK {
			t.Fatalf("busy: %d", res.status)
		}
	}
	g.get(t, "/quiet")
	check := func(route string, raised bool) error {
		got := autoState(t, g, route)
		t.Logf("%s: %s", route, got.Reason)
		if got.ChangeInterval == 0 || got.ReadEvery == 0 {
			return fmt.Errorf("%s: %+v, want a change interval and a read rate", route, got)
		}
		base := time.Duration(float64(got.ChangeInterval) * auto.Fraction)
		switch {
		case raised && (got.TTL < 2*base || !strings.Contains(got.Reason, "each URL is read about every")):
			return fmt.Errorf("%s: TTL %v, want well above %v for a route read every %v (%s)", route, got.TTL, base, got.ReadEvery, got.Reason)
		case !raised && (got.TTL != base.Round(0) && (got.TTL-base > time.Second || base-got.TTL > time.Second) || got.ReadEvery > 20*time.Second):
			return fmt.Errorf("%s: TTL %v read every %v, want %v, a fraction of the change interval (%s)", route, got.TTL, got.ReadEvery, base, got.Reason)
		}
		return nil
	}
	if err := errors.Join(check("busy", false), check("quiet", true)); err != nil {
		t.Fatal(err)
	}
}
