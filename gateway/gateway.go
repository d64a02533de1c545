package gateway

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/cachegate/cachegate/esi"
	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/internal/admission"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

// Gateway is the caching reverse proxy. Its zero value is not usable; call
// New.
type Gateway struct {
	cfg    Config
	proxy  *httputil.ReverseProxy
	flight flights
	m      *metrics
	warn   layerWarnings
	now    func() time.Time
	// wallClock: now is time.Now, so a request's arrival, read by
	// ServeHTTP, may stand for it (requestNow).
	wallClock bool
	// rand is uniform in [0, 1), for early refresh (tests fix it).
	rand func() float64
	l1   *switchableStore // cfg.L1, switchable by SetLocalEnabled
	via  string           // "1.1 <CacheName>"
	// viaValue is []string{via}, the Via of a response that had none.
	viaValue []string
	// rules are how stored responses are read; rules.internal are
	// tagging.InternalHeaders, canonical, removed from every response when
	// no CDN is configured.
	rules cacheRules
	// tagWarn rate-limits the warning about rejected origin tags.
	tagWarn rate.Sometimes

	hits hitValues // Age and Cache-Status values of hits

	// fillBudget bounds the bodies held for the store by fills in flight.
	fillBudget byteBudget
	// chunks recycles the read buffers of bodies of unknown length.
	chunks sync.Pool

	// exchanges recycles the exchanges of fresh hits, the one per-request
	// allocation of the hit path that is not a response value; each is
	// zero but for its key buffer (getExchange, putExchange).
	exchanges sync.Pool
	// writers recycles the observed writers of fresh hits (ServeHTTP).
	writers sync.Pool

	// esiDocs are the ESI documents parsed lately (esi.go); esiPages the
	// pages assembled lately (esipage.go).
	esiDocs  *esi.Docs
	esiPages esiPages
	// esiMarks are the values of esiMarkHeader (markESI): assemble,
	// origin. Shared by every response; nothing appends to them.
	esiMarks [2][]string

	// admit, with Config.L2Admission frequent and an L2, says which keys
	// were asked for before (their fills go to L2); nil admits all.
	admit *admission.Filter
	// admitted and rejected count L2 fills admitted and not.
	admitted, rejected atomic.Uint64

	// warm tracks hot URLs and refetches them (warm.go, warmjob.go).
	warm *warmer
	// auto learns the TTL of "ttl: auto" routes (autottl.go).
	auto autoTTLs

	// Background revalidations: one per key at a time, awaited by Close.
	revalidating sync.Map
	bg           sync.WaitGroup
	closed       atomic.Bool
}

// New validates cfg and builds a Gateway.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l1 := &switchableStore{Store: cfg.L1}
	cfg.L1 = l1
	if cfg.L2 != nil && cfg.L2Guard != nil {
		cfg.L2 = &guardedStore{Store: cfg.L2, guard: cfg.L2Guard}
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	g := &Gateway{cfg: cfg, m: m, now: time.Now, wallClock: true, rand: rand.Float64, l1: l1, via: "1.1 " + cfg.CacheName}
	g.viaValue = []string{g.via}
	g.auto.seed = maphash.MakeSeed()
	g.fillBudget.max = cfg.FillBufferBytes
	g.esiDocs = esi.NewDocs()
	g.esiMarks = [2][]string{{policy.ESIAssemble}, {esiMarkOrigin}}
	if cfg.L2 != nil && cfg.L2Admission == AdmitFrequent {
		g.admit = admission.New(0)
	}
	if err := g.registerAdmission(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	g.warm = newWarmer(g, cfg.Warm)
	if err := g.warm.register(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("gateway: metrics: %w", err)
	}
	g.warn.init(cfg.Logger)
	g.tagWarn = rate.Sometimes{First: 1, Interval: 10 * time.Second}
	g.rules = newCacheRules(cfg)
	g.proxy = &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      cfg.Transport,
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.errorHandler,
		ErrorLog:       nil,
	}
	return g, nil
}

// Close waits for background revalidations and refetches to finish (warm
// jobs stop at their next URL); later stale hits and invalidations start
// none.
func (g *Gateway) Close() error {
	g.closed.Store(true)
	g.warm.cancel()
	g.bg.Wait()
	return nil
}

// Handler returns the gateway as an echo v4 application: one catch-all
// route handing every request to the plain net/http handler ServeHTTP, so
// a move to echo v5 touches only this function. Any registers the methods
// echo knows; RouteNotFound takes every other one (PURGE, WebDAV's, M-SEARCH,
// methods not yet invented), which echo would otherwise answer 405.
func (g *Gateway) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	h := echo.WrapHandler(http.HandlerFunc(g.ServeHTTP))
	e.Any("/*", h)
	e.RouteNotFound("/*", h)
	return e
}

// unsafeMethod reports whether a successful response to m invalidates its
// target (RFC 9111 4.4): every method not known to be safe.
func unsafeMethod(m string) bool { return !safeMethod(m) }

// serve serves one request: private and bypass requests go straight to
// the origin, GET and HEAD through the cache, other methods to the origin
// (unsafe ones invalidating their target). obs collects what the access
// log and the client metrics report.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, obs *observation) {
	if headerBytes(r.Header) > g.cfg.MaxHeaderBytes {
		g.m.count(obs, outcomeError)
		g.identify(w.Header())
		w.Header().Set("Cache-Status", g.cfg.CacheName+"; fwd=request; detail=header-too-large")
		http.Error(w, "cachegate: request header too large", http.StatusRequestHeaderFieldsTooLarge)
		return
	}
	if len(r.TransferEncoding) > 0 {
		// Go's server has already dropped a Content-Length sent with the
		// Transfer-Encoding (RFC 9112 6.3); 6.1 then requires closing the
		// connection after the answer, so bytes a front proxy framed
		// differently are never read as a next request.
		w.Header().Set("Connection", "close")
	}
	target, ok := canonicalize(r)
	if !ok {
		g.badHost(w, obs)
		return
	}
	d := g.cfg.Policy.Decide(r)
	if !d.Private && len(r.Header["Authorization"]) > 0 {
		// Whatever a policy says, a shared cache never answers or stores
		// an authenticated request (RFC 9111 3.5; the contract).
		d.Private, d.PrivateReason = true, "authorization"
	}
	if d.Tenant == "" && !d.Private && !d.Bypass {
		// A policy that cannot name the tenant cannot key the request:
		// nothing may be stored, here or downstream.
		d.Bypass, d.BypassReason = true, "tenant"
	}
	if d.ESI == policy.ESIAssemble && g.serveShell(w, r, obs, d) {
		return
	}
	x := g.getExchange()
	x.d, x.target, x.method, x.req, x.host, x.obs = d, target, r.Method, r.Header, r.Host, obs
	obs.tenant, obs.route = d.Tenant, d.Rule
	if !obs.background {
		// A refetch of warming is no client's request.
		x.rec = g.cfg.Stats.Begin(d.Tenant, d.Rule, r.URL.Path)
	}
	switch {
	case d.Private || d.Bypass:
		x.kind = kindBypass
		g.m.count(x.obs, outcomeBypass)
		g.forward(w, r, x)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		x.kind = kindMethod
		g.m.count(x.obs, outcomeMethod)
		g.forward(w, r, x)
	default:
		x.kind = kindCacheable
		g.serveCacheable(w, r, x)
	}
}

// serveCacheable is the GET/HEAD path: lookup, then a hit, a stale hit
// with background revalidation, or a (coalesced) origin fetch.
func (g *Gateway) serveCacheable(w http.ResponseWriter, r *http.Request, x *exchange) {
	x.reqCC, _ = headers.ParseCacheControl(r.Header["Cache-Control"])
	if len(r.Header["Cache-Control"]) == 0 && strings.Contains(firstValue(r.Header["Pragma"]), "no-cache") {
		x.reqCC.NoCache = true
	}
	if len(x.d.Locales) > 0 {
		x.locale = headers.NegotiateLocale(strings.Join(r.Header["Accept-Language"], ","), x.d.Locales)
	}
	x.keyBuf = appendPrimaryKey(x.keyBuf[:0], x.d.Tenant, x.host, x.locale, x.target)
	x.key = unsafe.String(unsafe.SliceData(x.keyBuf), len(x.keyBuf))
	if g.admit != nil {
		x.noL2 = !g.admit.Seen(x.key) // hashes the key, keeps nothing of it
	}

	ctx := r.Context()
	now := g.requestNow(x)
	if x.d.AutoTTL != nil && (x.obs == nil || !x.obs.background) {
		// A client's read (not warming's refetch) teaches the read rate.
		g.auto.read(x.d.Rule, *x.d.AutoTTL, x.key, now)
	}
	e, layer, f := g.lookup(ctx, x, now)
	if e != nil && f.use != useForward {
		if m := e.derived; m != nil {
			x.rec.TaggedCached(&m.tagSet, e.Tags, true)
		} else {
			x.rec.Tagged(e.Tags, true)
		}
	}
	switch {
	case e != nil && f.use == useFresh:
		g.m.countSeries(x.obs, g.m.hit(layer))
		g.warm.observe(x, e.Tags)
		g.writeHit(w, x, e, layer, f)
		if layer == stats.L1 {
			markFresh(w, e, now)
		}
		if g.earlyRefresh(x, e, f) {
			g.refreshEarly(r, x, e, f)
		}
		// Nothing holds x after a fresh hit: reuse it. Every other path
		// may hand it to the proxy, a coalesced fetch or a background
		// revalidation, and leaves it to the garbage collector.
		if x.obs != nil {
			x.obs.fresh = true
		}
		g.putExchange(x)
		return
	case e != nil && f.use == useStale:
		g.m.count(x.obs, outcomeStaleHit)
		g.warm.observe(x, e.Tags)
		if f.soft {
			g.writeEntry(w, x, e, f.age, g.softStatus(layer, f))
		} else {
			g.writeHit(w, x, e, layer, f)
		}
		g.revalidateAsync(r, x, e, f)
		return
	}
	if x.reqCC.OnlyIfCached {
		g.m.count(x.obs, outcomeError)
		g.identify(w.Header())
		w.Header().Set("Cache-Status", g.cfg.CacheName+"; fwd=request; detail=only-if-cached")
		http.Error(w, "cachegate: not in cache (only-if-cached)", http.StatusGatewayTimeout)
		return
	}
	g.fetch(w, r, x)
}

// getExchange returns an exchange that is zero but for its key buffer
// (empty, its capacity kept): a request sets the fields it has one by one
// instead of clearing the whole exchange a second time.
func (g *Gateway) getExchange() *exchange {
	x, _ := g.exchanges.Get().(*exchange)
	if x == nil {
		return new(exchange)
	}
	return x
}

// putExchange recycles x, which nothing may hold any more, cleared but for
// its key buffer's bytes.
func (g *Gateway) putExchange(x *exchange) {
	*x = exchange{keyBuf: x.keyBuf[:0]}
	g.exchanges.Put(x)
}

// requestNow is the instant x's stored responses are judged at: the
// request's arrival, which ServeHTTP reads for the latency anyway, when the
// gateway runs on the wall clock (one clock read less per hit); g.now()
// otherwise, and for a request ServeHTTP did not time or already judged (a
// fragment, a background refetch, a shell's second pass).
func (g *Gateway) requestNow(x *exchange) time.Time {
	if o := x.obs; o != nil && g.wallClock && !o.arrival.IsZero() {
		t := o.arrival
		o.arrival = time.Time{}
		return t
	}
	return g.now()
}

// storeContext bounds a layer write, detached from the client request so a
// client that leaves does not abort a fill other requests are waiting on.
func storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
}

// requestTarget is r.URL.RequestURI(), without building it again when the
// server already holds it: a request line in origin form whose path and
// query are exactly what RequestURI would produce.
func requestTarget(r *http.Request) string {
	raw, u := r.RequestURI, r.URL
	if u.Opaque == "" && !u.ForceQuery && len(raw) > 0 && raw[0] == '/' {
		p := u.EscapedPath()
		if u.RawQuery == "" {
			if raw == p {
				return raw
			}
		} else if len(raw) == len(p)+1+len(u.RawQuery) && raw[:len(p)] == p &&
			raw[len(p)] == '?' && raw[len(p)+1:] == u.RawQuery {
			return raw
		}
	}
	return u.RequestURI()
}
