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
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

// keptOrigin serves pages whose assembly the gateway keeps: /k/page is a
// shell (ten minutes) of /k/a (tagged a), /k/short (ten seconds) and
// /k/vary (Vary: X-Variant); /k/mine includes /k/a and /k/me, private by
// its origin. Each fragment's body carries a version that moves on every
// origin fetch, so a reused assembly of an old entry shows.
func startKeptOrigin(t *testing.T) *origin {
	var version atomic.Int64
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		n := version.Add(1)
		switch r.URL.Path {
		case "/k/page":
			h.Set("Cache-Control", "max-age=600")
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			io.WriteString(w, `<esi:include src="/k/a"/>|<esi:include src="/k/short"/>|<esi:include src="/k/vary"/>`)
		case "/k/mine":
			h.Set("Cache-Control", "max-age=600")
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			io.WriteString(w, `<esi:include src="/k/a"/>|<esi:include src="/k/me"/>`)
		case "/k/a":
			h.Set("Cache-Control", "max-age=600")
			h.Set("Surrogate-Key", "a")
			fmt.Fprintf(w, "a%d", n)
		case "/k/short":
			h.Set("Cache-Control", "max-age=10")
			fmt.Fprintf(w, "short%d", n)
		case "/k/vary":
			h.Set("Cache-Control", "max-age=600")
			h.Set("Vary", "X-Variant")
			fmt.Fprintf(w, "vary-%s%d", r.Header.Get("X-Variant"), n)
		case "/k/me":
			h.Set("Cache-Control", "private")
			fmt.Fprintf(w, "me:%s%d", r.Header.Get("X-User"), n)
		default:
			http.Error(w, "no", http.StatusNotFound)
		}
	})
}

// reuseOf reports how many pages a request reused from a kept assembly.
func reuseOf(g *gw, do func()) uint64 {
	before := gateway.ESIPagesReused(g.Gateway)
	do()
	return gateway.ESIPagesReused(g.Gateway) - before
}

// viewKept gets path until its assembly is kept (the second view of
// fresh entries) and returns the first reused view.
func viewKept(t *testing.T, g *gw, path string, hdr ...string) result {
	t.Helper()
	for i := 0; i < 3; i++ {
		var r result
		if reuseOf(g, func() { r = g.get(t, path, hdr...) }) == 1 {
			return r
		}
	}
	t.Fatalf("%s: no view reused a kept assembly", path)
	return result{}
}

// TestESIKeptPageInvalidated: a fragment invalidated by its tag, through
// the gateway's invalidation, is never served from a kept assembly: the
// next view assembles the page again with the refetched fragment and a
// new ETag, and only then is that assembly reused.
func TestESIKeptPageInvalidated(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	r := viewKept(t, g, "/k/page")
	wantStatus(t, r, "; hit", "detail=l1", "fragments=3; fragment-hits=3")
	old, etag := r.body, r.header.Get("ETag")
	if !strings.HasPrefix(old, "a") || strings.Count(old, "|") != 2 {
		t.Fatalf("kept page %q", old)
	}

	if err := g.Invalidate(context.Background(), invalidationRequest("acme", "a")); err != nil {
		t.Fatal(err)
	}
	// Refilled before the page's next view, by a request of its own: the
	// key holds an entry again, another one.
	if r := g.get(t, "/k/a"); r.status != 200 || !strings.Contains(r.cacheStatus(), "stored") {
		t.Fatalf("refill of /k/a: %d %s", r.status, r.cacheStatus())
	}
	var after result
	if n := reuseOf(g, func() { after = g.get(t, "/k/page") }); n != 0 {
		t.Fatalf("the view after the invalidation reused %d kept assemblies", n)
	}
	if after.body == old || after.header.Get("ETag") == etag || o.paths("/k/a") != 2 {
		t.Fatalf("after invalidating a: %q ETag %s (was %q, %s); origin fetched /k/a %d times",
			after.body, after.header.Get("ETag"), old, etag, o.paths("/k/a"))
	}
	if rest := old[strings.IndexByte(old, '|'):]; !strings.HasSuffix(after.body, rest) {
		t.Fatalf("the other fragments changed: %q, was %q", after.body, old)
	}
	// Every fragment a hit, the refilled one too, yet assembled anew.
	wantStatus(t, after, "; hit", "fragments=3; fragment-hits=3")
	again := viewKept(t, g, "/k/page")
	if again.body != after.body || again.header.Get("ETag") != after.header.Get("ETag") {
		t.Fatalf("reused %q ETag %s, assembled %q ETag %s", again.body, again.header.Get("ETag"), after.body, after.header.Get("ETag"))
	}
	if n := o.paths("/k/page"); n != 1 {
		t.Fatalf("the shell was fetched %d times", n)
	}
}

// TestESIKeptPageSoftInvalidated: a fragment a soft invalidation made
// stale is not served from a kept assembly as if it were fresh.
func TestESIKeptPageSoftInvalidated(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	viewKept(t, g, "/k/page")
	req := invalidationRequest("acme", "a")
	req.Soft = true
	if err := g.Invalidate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var r result
	if n := reuseOf(g, func() { r = g.get(t, "/k/page") }); n != 0 {
		t.Fatalf("the view after a soft invalidation of a fragment reused %d kept assemblies", n)
	}
	wantNoStatus(t, r, "fragment-hits=3")
}

// TestESIKeptPageExpired: a fragment that expired is not served from a
// kept assembly, though the shell and the other fragments are fresh.
func TestESIKeptPageExpired(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	old := viewKept(t, g, "/k/page").body
	g.advance(11 * time.Second) // /k/short lives 10 s, the rest 600
	var r result
	if n := reuseOf(g, func() { r = g.get(t, "/k/page") }); n != 0 {
		t.Fatalf("a page with an expired fragment reused %d kept assemblies", n)
	}
	if r.body == old || o.paths("/k/short") != 2 || o.paths("/k/a") != 1 {
		t.Fatalf("after /k/short expired: %q (was %q); origin fetched /k/short %d, /k/a %d times",
			r.body, old, o.paths("/k/short"), o.paths("/k/a"))
	}
	wantStatus(t, r, "; hit", "fragments=3; fragment-hits=2")
}

// TestESIKeptPagePrivateFragment: a page with a private fragment is
// assembled for every request, the fragment fetched each time for its
// user, and never reused; nor is the kept page of another request that
// agrees on everything but credentials.
func TestESIKeptPagePrivateFragment(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	for i, user := range []string{"u1", "u2", "u1", "u1"} {
		var r result
		if n := reuseOf(g, func() { r = g.get(t, "/k/mine", "X-User: "+user) }); n != 0 {
			t.Fatalf("view %d reused %d kept assemblies", i, n)
		}
		if !strings.Contains(r.body, "|me:"+user) || r.header.Get("Cache-Control") != "private, no-store" {
			t.Fatalf("view %d for %s: %q, Cache-Control %q", i, user, r.body, r.header.Get("Cache-Control"))
		}
		if n := o.paths("/k/me"); n < i+1 {
			t.Fatalf("view %d: the private fragment was fetched %d times", i, n)
		}
	}
	// The private route of the esi: assemble page, with credentials.
	_, eg := startESI(t)
	for i, user := range []string{"u1", "u2", "u1"} {
		var r result
		if n := reuseOf(eg, func() { r = eg.get(t, "/esi/private", "Cookie: sessionid="+user) }); n != 0 {
			t.Fatalf("private view %d reused %d kept assemblies", i, n)
		}
		if !strings.Contains(r.body, "me:"+user+"|who:"+user) {
			t.Fatalf("private view %d: %q", i, r.body)
		}
	}
}

// TestESIKeptPageVariants: a fragment's Vary'd field selects the kept
// page: each variant reuses its own, never another's.
func TestESIKeptPageVariants(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	x := viewKept(t, g, "/k/page", "X-Variant: x").body
	y := viewKept(t, g, "/k/page", "X-Variant: y").body
	if !strings.Contains(x, "|vary-x") || !strings.Contains(y, "|vary-y") {
		t.Fatalf("variants %q and %q", x, y)
	}
	for i := 0; i < 4; i++ {
		v, want := "x", x
		if i%2 == 1 {
			v, want = "y", y
		}
		if r := g.get(t, "/k/page", "X-Variant: "+v); r.body != want {
			t.Fatalf("view %d for %s: %q, want %q", i, v, r.body, want)
		}
	}
}

// TestESIKeptPagePolicyHeaders: a header the policy reads for a
// fragment's route (here it makes the fragment private) is part of what
// a kept page must agree on; one it does not read is not. A policy that
// cannot name what it reads gets a page reused only by requests that
// agree on every field.
func TestESIKeptPagePolicyHeaders(t *testing.T) {
	o := startKeptOrigin(t)
	p, err := policy.Compile(policy.Config{Rules: []policy.RuleConfig{
		{Name: "beta-a", Match: policy.MatchConfig{Path: "/k/a", Headers: []string{"X-Beta"}}, Private: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, o, func(c *gateway.Config) { c.Policy = p })
	plain := viewKept(t, g, "/k/page", "X-Noise: 1")
	if n := reuseOf(g, func() { g.get(t, "/k/page", "X-Noise: 2") }); n != 1 {
		t.Fatalf("a field the policy does not read kept the page from being reused (%d)", n)
	}
	var beta result
	if n := reuseOf(g, func() { beta = g.get(t, "/k/page", "X-Beta: 1") }); n != 0 {
		t.Fatalf("a request whose fragment is private reused %d kept assemblies", n)
	}
	if beta.header.Get("Cache-Control") != "private, no-store" || beta.body == plain.body {
		t.Fatalf("with X-Beta: %q Cache-Control %q (kept: %q)", beta.body, beta.header.Get("Cache-Control"), plain.body)
	}

	o2 := startKeptOrigin(t)
	opaque := gateway.PolicyFunc(func(r *http.Request) policy.Decision { return p.Decide(r) })
	g2 := startGateway(t, o2, func(c *gateway.Config) { c.Policy = opaque })
	viewKept(t, g2, "/k/page", "X-Noise: 1")
	if n := reuseOf(g2, func() { g2.get(t, "/k/page", "X-Noise: 2") }); n != 0 {
		t.Fatalf("a policy that names no fields had its page reused for other fields (%d)", n)
	}
	if n := reuseOf(g2, func() { g2.get(t, "/k/page", "X-Noise: 1") }); n != 1 {
		t.Fatalf("the same fields did not reuse the page (%d)", n)
	}
}

// TestESIKeptPageAnswer: a reused page answers as an assembled one does:
// Cache-Status, ETag over the body, 304 to its ETag, HEAD, and the stats
// count the shell and each fragment as L1 hits.
func TestESIKeptPageAnswer(t *testing.T) {
	o := startKeptOrigin(t)
	g := startGateway(t, o, nil)
	g.get(t, "/k/page")
	counts := func(do func()) (requests, l1 uint64) {
		before := g.stats.Snapshot()
		do()
		after := g.stats.Snapshot()
		return after.Requests - before.Requests, after.Layers[stats.L1].Hits - before.Layers[stats.L1].Hits
	}
	var assembled, reused result
	ar, al := counts(func() {
		if n := reuseOf(g, func() { assembled = g.get(t, "/k/page") }); n != 0 {
			t.Fatal("the first view of fresh entries reused a kept page")
		}
	})
	rr, rl := counts(func() {
		if n := reuseOf(g, func() { reused = g.get(t, "/k/page") }); n != 1 {
			t.Fatal("the view after it did not reuse the kept page")
		}
	})
	if ar != 4 || al != 4 || rr != ar || rl != al {
		t.Fatalf("stats: assembled %d requests %d L1 hits, reused %d and %d; want 4 and 4 each", ar, al, rr, rl)
	}
	if reused.body != assembled.body || reused.header.Get("ETag") != assembled.header.Get("ETag") ||
		reused.header.Get("Content-Length") != fmt.Sprint(len(reused.body)) {
		t.Fatalf("reused %q ETag %s Content-Length %s; assembled %q ETag %s", reused.body, reused.header.Get("ETag"),
			reused.header.Get("Content-Length"), assembled.body, assembled.header.Get("ETag"))
	}
	wantStatus(t, reused, "; hit", "detail=l1", "fragments=3; fragment-hits=3")
	if !strings.HasPrefix(reused.header.Get("ETag"), `"esi-`) {
		t.Fatalf("ETag %q", reused.header.Get("ETag"))
	}
	for _, h := range []string{"Surrogate-Control", "Cachegate-Esi-Assemble", "Last-Modified"} {
		if v := reused.header.Get(h); v != "" {
			t.Fatalf("%s reached the client: %q", h, v)
		}
	}
	etag := reused.header.Get("ETag")
	var nm result
	if n := reuseOf(g, func() { nm = g.get(t, "/k/page", "If-None-Match: "+etag) }); n != 1 || nm.status != http.StatusNotModified {
		t.Fatalf("If-None-Match of the ETag: %d (reused %d)", nm.status, n)
	}
	if r := g.get(t, "/k/page", `If-None-Match: "other"`); r.status != 200 || r.body != assembled.body {
		t.Fatalf("If-None-Match of another ETag: %d %q", r.status, r.body)
	}
	var head result
	if n := reuseOf(g, func() { head = g.do(t, http.MethodHead, "acme", "/k/page") }); n != 1 || head.status != 200 ||
		head.body != "" || head.header.Get("ETag") != etag {
		t.Fatalf("HEAD: %d %q ETag %s (reused %d)", head.status, head.body, head.header.Get("ETag"), n)
	}
	// A reload's Cache-Control is honoured by assembling afresh.
	if n := reuseOf(g, func() { g.get(t, "/k/page", "Cache-Control: max-age=5") }); n != 0 {
		t.Fatalf("a request with Cache-Control reused %d kept pages", n)
	}
}
