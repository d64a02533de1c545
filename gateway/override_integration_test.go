package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/policy"
)

// overrideRule is publicRule with the origin's directives overridden.
func overrideRule(r *http.Request) policy.Decision {
	d := publicRule(r)
	d.Locales = nil
	sie := time.Hour
	d.StaleIfError, d.OverrideOrigin = &sie, true
	return d
}

// A route that overrides the origin stores and shares what the origin
// called private or no-cache (Rails' default), and its stale-if-error
// saves an outage; a route that respects the origin does neither.
func TestPolicyOverridesOrigin(t *testing.T) {
	for _, cc := range []string{"private", "no-cache", "no-store", "max-age=0, must-revalidate"} {
		for _, override := range []bool{false, true} {
			name := cc + " respected"
			if override {
				name = cc + " overridden"
			}
			t.Run(name, func(t *testing.T) {
				var failing atomic.Bool
				o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
					if failing.Load() {
						w.WriteHeader(http.StatusBadGateway)
						return
					}
					w.Header().Set("Cache-Control", cc)
					w.Header().Set("Surrogate-Key", "page")
					io.WriteString(w, "page")
				})
				g := startGateway(t, o, func(c *gateway.Config) {
					c.TagEmitter = cloudflare(t)
					c.Policy = gateway.PolicyFunc(publicRule)
					if override {
						c.Policy = gateway.PolicyFunc(overrideRule)
					}
				})
				first := g.get(t, "/r")
				r := g.get(t, "/r")
				if !override {
					// Respected, the origin's no-store, private and
					// no-cache win; a TTL still replaces a max-age.
					if cc == "max-age=0, must-revalidate" {
						wantStatus(t, r, "hit")
						return
					}
					wantNoStatus(t, r, "hit")
					if cc == "private" && first.header.Get("Cache-Control") != "private" {
						t.Fatalf("respected private: Cache-Control %q", first.header.Get("Cache-Control"))
					}
					return
				}
				wantStatus(t, first, "stored")
				wantStatus(t, r, "hit")
				for _, x := range []result{first, r} {
					if x.header.Get("Cloudflare-CDN-Cache-Control") != "max-age=86400" || !strings.Contains(x.header.Get("Cache-Tag"), "acme:page") {
						t.Fatalf("the CDN is not told the rule's directives and tags: %v", x.header)
					}
				}
				g.advance(90 * time.Minute) // past the TTL, within stale-if-error
				failing.Store(true)
				if r := g.get(t, "/r"); r.body != "page" {
					t.Fatalf("origin outage on an override route: %d %q", r.status, r.body)
				}
			})
		}
	}
}

// Overriding never touches what makes a request or response private.
func TestOverrideKeepsPrivacy(t *testing.T) {
	o := startOrigin(t, originWith(200, "Cache-Control: max-age=60", "Set-Cookie: s=1"))
	g := startGateway(t, o, func(c *gateway.Config) { c.Policy = gateway.PolicyFunc(overrideRule) })
	for range 2 {
		r := g.get(t, "/s")
		wantStatus(t, r, "detail=set-cookie")
		if r.header.Get("Cache-Control") != "private, no-store" {
			t.Fatalf("Set-Cookie response: Cache-Control %q", r.header.Get("Cache-Control"))
		}
	}
	r := g.get(t, "/s", "Authorization: Bearer x")
	if r.cacheStatus() != "cachegate; fwd=bypass" || r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("authorized request on an override route: %q %q", r.cacheStatus(), r.header.Get("Cache-Control"))
	}
}

// A response that is not stored says why in Cache-Status.
func TestNotStoredDetail(t *testing.T) {
	tests := []struct {
		origin []string
		req    []string
		detail string
	}{
		{[]string{"Cache-Control: no-store"}, nil, "origin-no-store"},
		{[]string{"Cache-Control: private, max-age=60"}, nil, "origin-private"},
		{[]string{"Cache-Control: max-age=60", "Set-Cookie: a=1"}, nil, "set-cookie"},
		{[]string{"Cache-Control: max-age=60", "Vary: *"}, nil, "vary-star"},
		{[]string{"Cache-Control: max-age=60", "X-Big: " + strings.Repeat("x", 2048)}, nil, "too-large"},
		{nil, nil, "no-freshness"},
		{[]string{"Cache-Control: max-age=60"}, []string{"Cache-Control: no-store"}, "request-no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.detail, func(t *testing.T) {
			o := startOrigin(t, originWith(200, tt.origin...))
			g := startGateway(t, o, func(c *gateway.Config) { c.MaxHeaderBytes = 1024 })
			r := g.get(t, "/n", tt.req...)
			wantStatus(t, r, "detail="+tt.detail)
			wantNoStatus(t, r, "stored")
		})
	}
}
