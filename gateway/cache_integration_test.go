package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

func TestSecondRequestIsL1Hit(t *testing.T) {
	o := startOrigin(t, cacheable("public, max-age=60", "hello"))
	g := startGateway(t, o, nil)

	first := g.get(t, "/page?b=2&a=1")
	wantStatus(t, first, "fwd=uri-miss", "stored", "ttl=60")
	second := g.get(t, "/page?b=2&a=1")
	wantStatus(t, second, "hit; detail=l1", "ttl=")
	if second.body != "hello" || o.requests.Load() != 1 {
		t.Fatalf("body %q, origin saw %d requests", second.body, o.requests.Load())
	}
	if second.header.Get("Age") == "" {
		t.Fatal("hit without Age")
	}
	if second.header.Get("Surrogate-Key") != "" {
		t.Fatal("origin tag header leaked to the client")
	}
	// The query is part of the key as sent: another order is another entry.
	wantStatus(t, g.get(t, "/page?a=1&b=2"), "fwd=uri-miss")
	snap := g.stats.Snapshot()
	if snap.Layers[stats.L1].Hits != 1 || snap.Layers[stats.Origin].Hits != 2 {
		t.Fatalf("stats %+v", snap.Layers)
	}
	// Rows by the policy rule's name, the path's first segment and the
	// responses' tag prefixes ("company:acme" and "company").
	if r := snap.Routes[policy.DefaultRuleName]; r.Requests != 3 {
		t.Errorf("route %q = %+v, want 3 requests (routes %v)", policy.DefaultRuleName, r, snap.Routes)
	}
	if p := snap.Prefixes["/page"]; p.Requests != 3 {
		t.Errorf("prefix /page = %+v", p)
	}
	if c := snap.TagPrefixes["company:*"]; c.Requests != 3 || c.Hits != 1 {
		t.Errorf("tag prefix company:* = %+v, want 3 requests, 1 hit", c)
	}
	if c := snap.TagPrefixes["company"]; c.Requests != 3 || c.Hits != 1 {
		t.Errorf("tag company = %+v, want 3 requests, 1 hit", c)
	}
}

func TestAgeGrowsWithResidence(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x", "Age: 3"))
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(10 * time.Second)
	r := g.get(t, "/")
	if age := r.header.Get("Age"); age != "13" {
		t.Fatalf("Age %q, want 13 (3 from upstream + 10 resident)", age)
	}
	wantStatus(t, r, "hit; detail=l1", "ttl=47")
}

func TestConditionalRequestsAnsweredFromCache(t *testing.T) {
	lm := "Mon, 02 Jan 2006 15:04:05 GMT"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		req     func(stored http.Header) string
		want    int
		// generated: the origin gives no validator; the gateway's ETag
		// is in the stored entry, not in the streamed miss.
		generated bool
	}{
		{"origin etag", cacheable("max-age=60", "a", `ETag: "v1"`), func(http.Header) string { return `If-None-Match: W/"v1"` }, 304, false},
		{"generated etag", cacheable("max-age=60", "a"), func(h http.Header) string { return "If-None-Match: " + h.Get("ETag") }, 304, true},
		{"etag mismatch", cacheable("max-age=60", "a", `ETag: "v1"`), func(http.Header) string { return `If-None-Match: "v0"` }, 200, false},
		{"if-modified-since", cacheable("max-age=60", "a", "Last-Modified: "+lm), func(http.Header) string { return "If-Modified-Since: " + lm }, 304, false},
		{"modified since", cacheable("max-age=60", "a", "Last-Modified: "+lm), func(http.Header) string { return "If-Modified-Since: Sun, 01 Jan 2006 00:00:00 GMT" }, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, tt.handler)
			g := startGateway(t, o, nil)
			first := g.get(t, "/p")
			if tt.generated {
				// The miss streamed before its body was known: the ETag
				// generated from the body is not in its header, and it
				// goes to the clients the stored entry answers.
				if first.header.Get("ETag") != "" {
					t.Fatalf("the streamed miss carries ETag %q, generated before its body was known", first.header.Get("ETag"))
				}
				first = g.get(t, "/p")
				wantStatus(t, first, "hit; detail=l1")
			}
			if first.header.Get("ETag") == "" && first.header.Get("Last-Modified") == "" {
				t.Fatal("a cacheable response left without a validator")
			}
			r := g.get(t, "/p", tt.req(first.header))
			if r.status != tt.want {
				t.Fatalf("status %d want %d", r.status, tt.want)
			}
			wantStatus(t, r, "hit; detail=l1")
			if o.requests.Load() != 1 {
				t.Fatalf("origin saw %d requests", o.requests.Load())
			}
			b := g.stats.Snapshot().Layers[stats.Browser]
			if tt.want == 304 && b.Hits != 1 || tt.want == 200 && b.Misses != 1 {
				t.Fatalf("browser layer %+v", b)
			}
		})
	}
}

func TestConditionalMissStoresFullResponse(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "body", `ETag: "v1"`))
	g := startGateway(t, o, nil)
	r := g.get(t, "/", `If-None-Match: "v1"`)
	if r.status != 304 {
		t.Fatalf("status %d", r.status)
	}
	if o.last().Header.Get("If-None-Match") != "" {
		t.Fatal("client validator forwarded on a fill")
	}
	if r := g.get(t, "/"); r.body != "body" {
		t.Fatalf("stored %q", r.body)
	}
}

func TestPrivateRequestsBypass(t *testing.T) {
	o := startOrigin(t, cacheable("public, max-age=60", "secret"))
	g := startGateway(t, o, nil)
	for _, hdr := range []string{"Authorization: Bearer x", "Cookie: a=1; sessionid=abc", "Cookie: session=1"} {
		for i := 0; i < 2; i++ {
			r := g.get(t, "/account", hdr)
			if r.header.Get("Cache-Control") != "private, no-store" {
				t.Fatalf("%s: Cache-Control %q", hdr, r.header.Get("Cache-Control"))
			}
			if r.cacheStatus() != "cachegate; fwd=bypass" {
				t.Fatalf("%s: Cache-Status %q", hdr, r.cacheStatus())
			}
			if r.header.Get("Surrogate-Key") != "" || r.header.Get("Cache-Tag") != "" {
				t.Fatal("tag header on a private response")
			}
		}
	}
	if n := o.requests.Load(); n != 6 {
		t.Fatalf("origin saw %d of 6 private requests", n)
	}
	// Nothing was stored: an anonymous request is a miss.
	wantStatus(t, g.get(t, "/account"), "fwd=uri-miss")
	// A cookie that is not a session cookie does not make a request private.
	wantStatus(t, g.get(t, "/account", "Cookie: theme=dark"), "hit; detail=l1")
}

func TestSetCookieNeverStored(t *testing.T) {
	o := startOrigin(t, cacheable("public, max-age=60", "x", "Set-Cookie: id=1"))
	g := startGateway(t, o, nil)
	for i := 0; i < 3; i++ {
		r := g.get(t, "/")
		wantStatus(t, r, "fwd=uri-miss")
		wantNoStatus(t, r, "stored")
	}
	if o.requests.Load() != 3 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
}

func TestNotStored(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"no freshness, no validator (no heuristic caching)", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
		}},
		{"stale on arrival, no validator", cacheable("max-age=0", "x")},
		{"no-store", cacheable("max-age=60, no-store", "x")},
		{"private", cacheable("private, max-age=60", "x")},
		{"vary star", cacheable("max-age=60", "x", "Vary: *")},
		{"500 without freshness", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v"`)
			w.WriteHeader(http.StatusInternalServerError)
		}},
		{"no-store, must-understand on an unknown status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60, no-store, must-understand")
			w.WriteHeader(299)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, tt.h)
			g := startGateway(t, o, nil)
			g.get(t, "/")
			r := g.get(t, "/")
			wantStatus(t, r, "fwd=uri-miss")
			if o.requests.Load() != 2 {
				t.Fatalf("origin saw %d", o.requests.Load())
			}
		})
	}
}

func TestCacheableStatusesStored(t *testing.T) {
	for _, code := range []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if code >= 300 && code < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
			})
			g := startGateway(t, o, nil)
			g.get(t, "/")
			r := g.get(t, "/")
			if r.status != code {
				t.Fatalf("status %d", r.status)
			}
			wantStatus(t, r, "hit; detail=l1")
		})
	}
}

func TestPolicyTTLStoresWithoutOriginFreshness(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	ttl := 30 * time.Second
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
			d := gateway.DefaultPolicy{}.Decide(r)
			d.TTL = &ttl
			d.Tags = []string{"rule-tag"}
			return d
		})
	})
	g.get(t, "/")
	r := g.get(t, "/")
	wantStatus(t, r, "hit; detail=l1")
	// 29 when the clock passed a second since the response's Date, which
	// has whole seconds.
	if cs := r.cacheStatus(); !strings.Contains(cs, "ttl=30") && !strings.Contains(cs, "ttl=29") {
		t.Fatalf("Cache-Status %q, want the policy's ttl=30 (or 29)", cs)
	}
	if err := g.InvalidateTags(context.Background(), "acme", "rule-tag"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.get(t, "/"), "fwd=uri-miss")
}

func TestTenantsNeverShareEntries(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Surrogate-Key", "company")
		io.WriteString(w, "page of "+r.Host)
	})
	g := startGateway(t, o, nil)
	a := g.do(t, "GET", "acme", "/")
	b := g.do(t, "GET", "berg:8080", "/")
	// The origin is sent the canonical host, which is what the key holds.
	if a.body != "page of acme" || b.body != "page of berg" {
		t.Fatalf("bodies %q %q", a.body, b.body)
	}
	wantStatus(t, b, "fwd=uri-miss")
	wantStatus(t, g.do(t, "GET", "BERG", "/"), "hit; detail=l1")
	// Invalidating a tag of acme leaves berg's entry alone.
	if err := g.InvalidateTags(context.Background(), "acme", "company"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.do(t, "GET", "acme", "/"), "fwd=uri-miss")
	wantStatus(t, g.do(t, "GET", "berg", "/"), "hit; detail=l1")
}

func TestInvalidation(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	ctx := context.Background()
	tests := []struct {
		name       string
		invalidate func(*gw) error
		path       string
		miss       bool
	}{
		{"tags", func(g *gw) error { return g.InvalidateTags(ctx, "acme", "company:acme") }, "/a", true},
		{"other tag", func(g *gw) error { return g.InvalidateTags(ctx, "acme", "company:berg") }, "/a", false},
		{"url", func(g *gw) error {
			return g.Invalidate(ctx, invalidation.Request{Tenant: "acme", URLs: []string{"/a/b?x=1"}})
		}, "/a/b?x=1", true},
		{"prefix", func(g *gw) error {
			return g.Invalidate(ctx, invalidation.Request{Tenant: "acme", Prefixes: []string{"/a"}})
		}, "/a/b", true},
		{"prefix on segment boundary", func(g *gw) error {
			return g.Invalidate(ctx, invalidation.Request{Tenant: "acme", Prefixes: []string{"/a"}})
		}, "/ab", false},
		{"everything", func(g *gw) error {
			return g.Invalidate(ctx, invalidation.Request{Tenant: "acme", Everything: true})
		}, "/z", true},
		{"local", func(g *gw) error {
			return g.InvalidateLocal(ctx, invalidation.Request{Tenant: "acme", Tags: []string{"company"}})
		}, "/", true},
		{"shared without L2 is a no-op", func(g *gw) error {
			return g.InvalidateShared(ctx, invalidation.Request{Tenant: "acme", Tags: []string{"company"}})
		}, "/", false},
		{"drop local", func(g *gw) error { return g.DropLocal(ctx) }, "/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := startGateway(t, o, nil)
			g.get(t, tt.path)
			wantStatus(t, g.get(t, tt.path), "hit")
			if err := tt.invalidate(g); err != nil {
				t.Fatal(err)
			}
			r := g.get(t, tt.path)
			if tt.miss {
				wantStatus(t, r, "fwd=uri-miss")
			} else {
				wantStatus(t, r, "hit; detail=l1")
			}
		})
	}
	g := startGateway(t, o, nil)
	if err := g.Invalidate(ctx, invalidation.Request{Tenant: "Bad Tenant", Tags: []string{"x"}}); err == nil {
		t.Fatal("invalid request accepted")
	}
	if err := g.InvalidateTags(ctx, "", "x"); err == nil {
		t.Fatal("empty tenant accepted")
	}
}

// A fill whose origin fetch began before an invalidation and stores after
// it must be dead on arrival (PITFALLS 1, 2).
func TestFillRacingInvalidationIsDead(t *testing.T) {
	entered := make(chan struct{})
	proceed := make(chan struct{})
	first := true
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if first {
			first = false
			close(entered)
			<-proceed
		}
		cacheable("max-age=60", "old")(w, r)
	})
	l2 := gateway.NewTestStore()
	g := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2 })
	done := make(chan result)
	go func() { done <- g.get(t, "/") }()
	<-entered
	if err := g.InvalidateTags(context.Background(), "acme", "company:acme"); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	r := <-done
	wantStatus(t, r, "stored")
	// Both layers got the fill, both must treat it as invalidated.
	wantStatus(t, g.get(t, "/"), "fwd=uri-miss")
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
}

func TestUnsafeMethodInvalidatesTarget(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/created")
			w.Header().Set("Content-Location", "http://elsewhere.example/other")
			w.WriteHeader(http.StatusCreated)
			return
		}
		cacheable("max-age=60", "x")(w, r)
	})
	g := startGateway(t, o, nil)
	for _, p := range []string{"/items", "/created", "/other"} {
		g.get(t, p)
	}
	r := g.do(t, http.MethodPost, "acme", "/items")
	wantStatus(t, r, "fwd=method", "fwd-status=201")
	wantStatus(t, g.get(t, "/items"), "fwd=uri-miss")
	wantStatus(t, g.get(t, "/created"), "fwd=uri-miss")
	wantStatus(t, g.get(t, "/other"), "hit; detail=l1") // another host's URI is not ours to drop
	// A failed write invalidates nothing.
	o2 := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		cacheable("max-age=60", "x")(w, r)
	})
	g2 := startGateway(t, o2, nil)
	g2.get(t, "/items")
	g2.do(t, http.MethodDelete, "acme", "/items")
	wantStatus(t, g2.get(t, "/items"), "hit; detail=l1")
}

func TestHEADServedFromGETEntry(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "0123456789"))
	g := startGateway(t, o, nil)
	g.get(t, "/")
	r := g.do(t, http.MethodHead, "acme", "/")
	wantStatus(t, r, "hit; detail=l1")
	if r.body != "" || r.header.Get("Content-Length") != "10" {
		t.Fatalf("HEAD body %q, Content-Length %q", r.body, r.header.Get("Content-Length"))
	}
	// A HEAD miss fills with GET, and a later GET is a hit with the body.
	o2 := startOrigin(t, cacheable("max-age=60", "body"))
	g2 := startGateway(t, o2, nil)
	h := g2.do(t, http.MethodHead, "acme", "/")
	if h.body != "" || o2.last().Method != http.MethodGet {
		t.Fatalf("HEAD miss: body %q, origin method %s", h.body, o2.last().Method)
	}
	if r := g2.get(t, "/"); r.body != "body" || !strings.Contains(r.cacheStatus(), "hit") {
		t.Fatalf("GET after HEAD: %q %q", r.body, r.cacheStatus())
	}
}
