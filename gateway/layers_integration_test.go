package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/policy"
)

// concurrently runs n requests for path while the origin holds its
// response until all but the leader wait on the leader's fetch, then
// returns their results.
func concurrently(t *testing.T, g *gw, release chan struct{}, n int, path string, hdr ...string) []result {
	t.Helper()
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.get(t, path, hdr...)
		}()
	}
	waitWaiting(t, g.Gateway, n-1)
	close(release)
	wg.Wait()
	return out
}

func TestConcurrentMissesCoalesce(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		cacheable("max-age=60", "shared")(w, r)
	})
	g := startGateway(t, o, nil)
	const n = 20
	res := concurrently(t, g, release, n, "/hot")
	collapsed := 0
	for _, r := range res {
		if r.body != "shared" {
			t.Fatalf("body %q", r.body)
		}
		if strings.Contains(r.cacheStatus(), "collapsed") {
			collapsed++
		}
	}
	if o.requests.Load() != 1 || collapsed != n-1 {
		t.Fatalf("origin saw %d requests, %d of %d collapsed", o.requests.Load(), collapsed, n)
	}
}

// Waiters are never handed a response that is not shareable (PITFALLS 4).
func TestUncacheableResponseIsNotShared(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	next := 0
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		mu.Lock()
		next++
		id := next
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Set-Cookie", "user="+string(rune('a'+id)))
		io.WriteString(w, "private")
	})
	g := startGateway(t, o, nil)
	const n = 8
	res := concurrently(t, g, release, n, "/me")
	cookies := map[string]bool{}
	for _, r := range res {
		cookies[r.header.Get("Set-Cookie")] = true
		wantNoStatus(t, r, "collapsed")
	}
	if o.requests.Load() != n || len(cookies) != n {
		t.Fatalf("origin saw %d requests, %d distinct cookies; want %d", o.requests.Load(), len(cookies), n)
	}
}

func TestPrivateRequestsAreNotCoalesced(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, r.Header.Get("Authorization"))
	})
	g := startGateway(t, o, nil)
	const n = 5
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = g.get(t, "/account", "Authorization: user"+string(rune('0'+i))).body
		}()
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if o.requests.Load() < n {
			return errorfT("origin has %d of %d", o.requests.Load(), n)
		}
		return nil
	})
	close(release)
	wg.Wait()
	for i, b := range bodies {
		if b != "user"+string(rune('0'+i)) {
			t.Fatalf("request %d got %q", i, b)
		}
	}
}

func localeOrigin(t *testing.T) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language, Accept-Encoding")
		switch r.Header.Get("Accept-Language") {
		case "de":
			io.WriteString(w, "Willkommen")
		case "en":
			io.WriteString(w, "Welcome")
		default:
			t.Errorf("origin got Accept-Language %q", r.Header.Get("Accept-Language"))
		}
	})
}

func TestLocaleNormalization(t *testing.T) {
	o := localeOrigin(t)
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
			d := gateway.DefaultPolicy{}.Decide(r)
			d.Locales = []string{"en", "de"}
			return d
		})
	})
	steps := []struct {
		lang, want, status string
	}{
		{"de-DE,de;q=0.9,en;q=0.8", "Willkommen", "fwd=miss"},
		{"de-AT", "Willkommen", "hit"},
		{"de", "Willkommen", "hit"},
		{"en-US,en;q=0.9", "Welcome", "fwd=miss"},
		{"fr-FR", "Welcome", "hit"}, // no match: the first locale
		{"", "Welcome", "hit"},
	}
	for _, s := range steps {
		r := g.get(t, "/", "Accept-Language: "+s.lang, "Accept-Encoding: gzip, deflate, br")
		if r.body != s.want {
			t.Fatalf("%q: got %q", s.lang, r.body)
		}
		wantStatus(t, r, s.status)
	}
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d requests for 2 locales", o.requests.Load())
	}
}

func TestVaryAcceptEncodingBuckets(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		io.WriteString(w, "enc="+r.Header.Get("Accept-Encoding"))
	})
	g := startGateway(t, o, nil)
	steps := []struct{ ae, body, status string }{
		{"gzip, deflate, br, zstd", "enc=br, gzip", "fwd=uri-miss"},
		{"br;q=1, gzip;q=0.5", "enc=br, gzip", "hit"},
		{"gzip", "enc=gzip", "fwd=vary-miss"},
		{"deflate, gzip;q=0.8", "enc=gzip", "hit"},
	}
	for _, s := range steps {
		r := g.get(t, "/v", "Accept-Encoding: "+s.ae)
		if r.body != s.body {
			t.Fatalf("%q: got %q", s.ae, r.body)
		}
		wantStatus(t, r, s.status)
	}
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
}

func TestL2HitFillsL1(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "shared"))
	l2 := gateway.NewTestStore()
	a := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2 })
	b := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2 })
	wantStatus(t, a.get(t, "/"), "fwd=uri-miss", "stored")
	wantStatus(t, b.get(t, "/"), "hit; detail=l2")
	wantStatus(t, b.get(t, "/"), "hit; detail=l1")
	if o.requests.Load() != 1 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
	// Invalidate reaches both layers: the next request on b is a miss.
	if err := b.InvalidateTags(context.Background(), "acme", "company"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.get(t, "/"), "fwd=uri-miss")
	// a's L1 still has its copy until a's own L1 is invalidated (the
	// coordinator does that on every instance).
	wantStatus(t, a.get(t, "/"), "hit; detail=l1")
}

// An L1 copy of an L2 hit is stamped with the L1 generation read before
// L2: invalidating L1 while L2 still holds the old entry cannot resurrect it
// through the copy once L2 is invalidated too (order: L2 then L1).
func TestInvalidateSharedThenLocal(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	l2 := gateway.NewTestStore()
	g := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2 })
	g.get(t, "/")
	req := invalidationRequest("acme", "company:acme")
	if err := g.InvalidateShared(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.get(t, "/"), "hit; detail=l1")
	if err := g.InvalidateLocal(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.get(t, "/"), "fwd=uri-miss")
}

func TestL2OutageIsAMiss(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	l2 := gateway.NewTestStore()
	g := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2; c.FillLock = gateway.NewTestLock() })
	l2.Fail.Store(true)
	r := g.get(t, "/")
	if r.status != 200 || r.body != "x" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	wantStatus(t, g.get(t, "/"), "hit; detail=l1")
	if err := g.InvalidateTags(context.Background(), "acme", "company"); err == nil {
		t.Fatal("an L2 outage during invalidation must be reported to the caller")
	}
	// L1 was invalidated regardless. L2 failed its lookup, so the
	// gateway cannot say the cache holds nothing: a generic miss.
	wantStatus(t, g.get(t, "/"), "fwd=miss")
	// Recovery needs nothing: the next miss fills L2 again.
	l2.Fail.Store(false)
	g.InvalidateLocal(context.Background(), invalidationRequest("acme", "company"))
	g.get(t, "/")
	wantStatus(t, g.get(t, "/"), "hit; detail=l1")
	b := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2 })
	wantStatus(t, b.get(t, "/"), "hit; detail=l2")
}

func TestFillLockCoalescesAcrossInstances(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		cacheable("max-age=60", "once")(w, r)
	})
	l2, lock := gateway.NewTestStore(), gateway.NewTestLock()
	a := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2; c.FillLock = lock })
	b := startGateway(t, o, func(c *gateway.Config) { c.L2 = l2; c.FillLock = lock })
	done := make(chan result, 2)
	go func() { done <- a.get(t, "/") }()
	<-entered // a holds the lock and is at the origin
	getsBefore := l2.Gets.Load()
	go func() { done <- b.get(t, "/") }()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if l2.Gets.Load() < getsBefore+2 { // b's lookup and at least one poll
			return errorfT("b has not polled yet")
		}
		return nil
	})
	close(release)
	r1, r2 := <-done, <-done
	if r1.body != "once" || r2.body != "once" || o.requests.Load() != 1 {
		t.Fatalf("bodies %q %q, origin %d", r1.body, r2.body, o.requests.Load())
	}
	if !strings.Contains(r1.cacheStatus()+r2.cacheStatus(), "collapsed") {
		t.Fatalf("no collapsed response: %q %q", r1.cacheStatus(), r2.cacheStatus())
	}
}

func TestEchoRoutesEveryMethodAndPath(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Forwarded-Host"))
	})
	g := startGateway(t, o, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/a/b%2Fc?q=1"}, {"PURGE", "/x"}, {"OPTIONS", "/y"}, {"PROPFIND", "/dav"},
	} {
		r := g.do(t, c.method, "acme", c.path)
		if want := c.method + " " + c.path + " acme"; r.body != want {
			t.Fatalf("got %q want %q", r.body, want)
		}
	}
}

// The CDN gets the origin's tags, then the rule's, then the implicit URL
// and path tags a purge by URL or prefix uses where the CDN cannot purge
// those directly.
func TestTagEmitterGetsEntryTags(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x", "Cache-Tag: gallery:acme, extra"))
	em := &recordingEmitter{}
	g := startGateway(t, o, func(c *gateway.Config) { c.TagEmitter = em })
	for _, status := range []string{"fwd=uri-miss", "hit"} {
		r := g.get(t, "/")
		wantStatus(t, r, status)
		if got := r.header.Get("X-Tags"); got != "acme:company:acme company gallery:acme extra url:/ path:/" {
			t.Fatalf("%s: tags %q", status, got)
		}
	}
	if r := g.get(t, "/", "Authorization: x"); r.header.Get("X-Tags") != "" {
		t.Fatal("tags on a private response")
	}
}

type recordingEmitter struct{}

func (recordingEmitter) Emit(h http.Header, tenant string, tags []string) {
	h.Set("X-Tags", tenant+":"+strings.Join(tags, " "))
}

func TestLocaleKeyAddsVaryForDownstream(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "page", "Vary: Accept-Encoding"))
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
			d := gateway.DefaultPolicy{}.Decide(r)
			d.Locales = []string{"en", "de"}
			return d
		})
	})
	for range 2 {
		r := g.get(t, "/", "Accept-Language: de")
		if v := strings.Join(r.header.Values("Vary"), ", "); v != "Accept-Encoding, Accept-Language" {
			t.Fatalf("Vary %q", v)
		}
	}
	if o.last().Header.Get("Accept-Language") != "de" {
		t.Fatalf("origin saw Accept-Language %q", o.last().Header.Get("Accept-Language"))
	}
}

func TestMetricsCountOutcomes(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	reg := prometheus.NewRegistry()
	g := startGateway(t, o, func(c *gateway.Config) { c.Metrics = reg })
	g.get(t, "/")
	g.get(t, "/")
	g.get(t, "/", "Authorization: x")
	got := map[string]float64{}
	histograms := 0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "cachegate_requests_total":
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			case "cachegate_origin_request_duration_seconds":
				histograms += int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if got["miss"] != 1 || got["hit_l1"] != 1 || got["bypass"] != 1 || histograms != 2 {
		t.Fatalf("counters %v, origin samples %d", got, histograms)
	}
}
