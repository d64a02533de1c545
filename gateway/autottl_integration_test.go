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
	"github.com/cachegate/cachegate/policy"
)

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
		{"stable", false, 300 * time.Second, 0, "no change in 3 revalidations"},
		{"changing", true, 150 * time.Second, 3, "3 changes in 3 revalidations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var version atomic.Int64
			var gp atomic.Pointer[gw] // the gateway, for its clock
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				v := version.Load()
				if c.changing {
					v = version.Add(1)
				}
				etag := fmt.Sprintf(`"v%d"`, v)
				// Dated by the gateway's (moved) clock, 304s too.
				now := time.Now().Add(time.Duration(gp.Load().clock.Load()))
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				w.Header().Set("ETag", etag)
				if r.Header.Get("If-None-Match") == etag {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				io.WriteString(w, etag)
			})
			auto := &policy.AutoTTL{Min: 150 * time.Second, Max: time.Hour, Fraction: 0.5}
			g := startGateway(t, o, func(cfg *gateway.Config) {
				cfg.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
					return policy.Decision{Rule: "auto", Tenant: "acme", AutoTTL: auto}
				})
			})
			gp.Store(g)
			wantStatus(t, g.get(t, "/a"), "stored", "ttl=150")
			for i := range 3 {
				g.advance(200 * time.Second)
				res := g.get(t, "/a")
				if strings.Contains(res.cacheStatus(), "hit") {
					t.Fatalf("revalidation %d: a hit (%s), want the stale entry revalidated", i, res.cacheStatus())
				}
			}
			got := g.AutoTTLs()
			if len(got) != 1 || got[0].Route != "auto" || got[0].Revalidations != 3 || got[0].Changes != c.changes {
				t.Fatalf("AutoTTLs %+v, want 3 revalidations, %d changes", got, c.changes)
			}
			// Ages are whole seconds plus the time the requests took.
			if d := got[0].TTL - c.want; d < -2*time.Second || d > 2*time.Second {
				t.Fatalf("TTL %v, want %v (%s)", got[0].TTL, c.want, got[0].Reason)
			}
			if !strings.Contains(got[0].Reason, c.reason) {
				t.Fatalf("reason %q lacks %q", got[0].Reason, c.reason)
			}
			wantStatus(t, g.get(t, "/a"), "hit")
		})
	}
}
