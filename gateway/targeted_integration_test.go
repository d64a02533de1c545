package gateway_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// Targeted cache control (RFC 9213): the first valid targeted field
// replaces Cache-Control for the gateway's storage and freshness; the
// gateway's own field never leaves it, Cache-Control passes unchanged.
func TestTargetedCacheControl(t *testing.T) {
	tests := []struct {
		name   string
		fields []string // nil: the default order
		origin []string
		hit    bool
	}{
		{"own field stores what Cache-Control forbids", nil, []string{"Cachegate-Cache-Control: max-age=60", "Cache-Control: no-store"}, true},
		{"own field no-store", nil, []string{"Cachegate-Cache-Control: no-store", "Cache-Control: max-age=60"}, false},
		{"own field private", nil, []string{"Cachegate-Cache-Control: private", "Cache-Control: public, max-age=60"}, false},
		{"own field no-cache revalidates", nil, []string{"Cachegate-Cache-Control: no-cache", "Cache-Control: max-age=60", `ETag: "e"`}, false},
		{"max-age over 2^31", nil, []string{"Cachegate-Cache-Control: max-age=4294967296", "Cache-Control: no-cache"}, true},
		{"own field before CDN-Cache-Control", nil, []string{"Cachegate-Cache-Control: no-store", "CDN-Cache-Control: max-age=60", "Cache-Control: max-age=60"}, false},
		{"CDN-Cache-Control before Cache-Control", nil, []string{"CDN-Cache-Control: max-age=60", "Cache-Control: no-store"}, true},
		{"invalid own field ignored", nil, []string{"Cachegate-Cache-Control: No-Store", "Cache-Control: max-age=60"}, true},
		{"targeted field replaces Expires", nil, []string{"Cachegate-Cache-Control: no-cache", "Expires: " + time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, false},
		{"configured order", []string{"CDN-Cache-Control", "Cachegate-Cache-Control"}, []string{"Cachegate-Cache-Control: no-store", "CDN-Cache-Control: max-age=60"}, true},
		{"none configured: Cache-Control alone", []string{}, []string{"Cachegate-Cache-Control: max-age=60", "Cache-Control: no-store"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, originWith(200, tt.origin...))
			g := startGateway(t, o, func(c *gateway.Config) { c.TargetedFields = tt.fields })
			for i := range 2 {
				r := g.get(t, "/t")
				if i == 1 && containsHit(r) != tt.hit {
					t.Fatalf("hit %v, want %v (%q)", containsHit(r), tt.hit, r.cacheStatus())
				}
				if tt.fields == nil && r.header.Get("Cachegate-Cache-Control") != "" {
					t.Fatalf("the gateway's own field was passed on: %q", r.header.Get("Cachegate-Cache-Control"))
				}
				for _, l := range tt.origin {
					if want, ok := strings.CutPrefix(l, "Cache-Control: "); ok {
						if got := r.header.Get("Cache-Control"); got != want {
							t.Fatalf("Cache-Control %q, want the origin's %q", got, want)
						}
					}
				}
			}
		})
	}
}

func containsHit(r result) bool { return strings.Contains(r.cacheStatus(), "; hit") }

// The origin's CDN-Cache-Control reaches the CDN in front when the policy
// sets no CDN directives.
func TestCDNCacheControlPassedOn(t *testing.T) {
	o := startOrigin(t, originWith(200, "CDN-Cache-Control: max-age=600", "Cachegate-Cache-Control: max-age=60", "Cache-Control: max-age=5"))
	g := startGateway(t, o, func(c *gateway.Config) { c.TagEmitter = cloudflare(t) })
	for range 2 {
		r := g.get(t, "/c")
		if got := r.header.Get("CDN-Cache-Control"); got != "max-age=600" {
			t.Fatalf("CDN-Cache-Control %q", got)
		}
		if got := r.header.Get("Cachegate-Cache-Control"); got != "" {
			t.Fatalf("own field passed on: %q", got)
		}
	}
}

// Heuristic freshness is off by default (a response with only a
// Last-Modified is revalidated on every use) and, switched on, lasts a
// tenth of the Last-Modified age.
func TestHeuristicFreshnessSwitch(t *testing.T) {
	lm := time.Now().Add(-100 * time.Hour).UTC().Format(http.TimeFormat)
	for _, on := range []bool{false, true} {
		o := startOrigin(t, originWith(200, "Last-Modified: "+lm))
		g := startGateway(t, o, func(c *gateway.Config) { c.Heuristic = on })
		wantStatus(t, g.get(t, "/h"), "stored")
		r := g.get(t, "/h")
		if containsHit(r) != on {
			t.Fatalf("heuristic %v: second request %q", on, r.cacheStatus())
		}
		if !on {
			if got := o.last().Header.Get("If-Modified-Since"); got != lm {
				t.Fatalf("revalidation sent If-Modified-Since %q", got)
			}
			continue
		}
		g.advance(9 * time.Hour)
		wantStatus(t, g.get(t, "/h"), "hit")
		g.advance(2 * time.Hour)
		wantNoStatus(t, g.get(t, "/h"), "hit")
	}
}
