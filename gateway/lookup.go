package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/cachegate/cachegate/stats"
)

// use is what may be done with a stored response for this request.
type use int

const (
	useForward use = iota // revalidate or fetch
	useFresh              // serve as a hit
	useStale              // serve stale, revalidate in the background
)

// freshness is a stored response's state at one instant, with policy's
// overrides applied.
type freshness struct {
	age, lifetime  time.Duration
	swr, sie       time.Duration
	keep           time.Duration // how long past its stale windows it is kept to revalidate
	mustRevalidate bool
	noCache        bool
	// soft: a soft invalidation made the entry stale (Entry.SoftSince).
	soft   bool
	use    use
	reason string // why it is forwarded, when it is
}

// evaluate computes e's freshness for x's request at now (RFC 9111 4.2 and
// RFC 5861), applying the decision's TTL and stale overrides and MaxTTL.
func (g *Gateway) evaluate(x *exchange, e *Entry, now time.Time) freshness {
	m := g.derive(e)
	var f freshness
	f.lifetime = m.lifetime
	if x.d.TTL != nil {
		f.lifetime = *x.d.TTL
	} else if x.d.AutoTTL != nil {
		f.lifetime = g.auto.ttl(x.d.Rule, *x.d.AutoTTL)
	}
	f.lifetime = min(f.lifetime, g.cfg.MaxTTL)
	f.swr, f.sie = m.staleWindows()
	if x.d.StaleWhileRevalidate != nil {
		f.swr = *x.d.StaleWhileRevalidate
	}
	if x.d.StaleIfError != nil {
		f.sie = *x.d.StaleIfError
	}
	// A rule that overrides the origin replaces its revalidation
	// directives along with its lifetime: that is what lets its
	// stale-if-error save an outage of an origin that says no-cache.
	f.mustRevalidate = m.mustRevalidate && !x.d.OverrideOrigin
	f.noCache = m.noCache && !x.d.OverrideOrigin
	if m.validator {
		f.keep = g.cfg.Keep
	}
	f.age = m.currentAge(e, now)
	if !e.SoftSince.IsZero() {
		// A soft invalidation ended its freshness: its lifetime is the
		// age it had then, so its stale windows run from that instant.
		// Not clamped at zero: a fetch that raced the invalidation had
		// a negative age then, and its windows are no longer for it.
		if at := f.age - now.Sub(e.SoftSince); at < f.lifetime {
			f.lifetime, f.soft = at, true
		}
	}

	// A client's no-cache or max-age=0 is honoured with a conditional
	// request to the origin (cheap when the origin answers 304), not by
	// refetching: that keeps RFC 9111's semantics without letting reloads
	// empty the cache.
	rc := &x.reqCC
	switch {
	case rc.NoCache || rc.HasMaxAge && f.age > rc.MaxAge ||
		rc.HasMinFresh && f.lifetime-f.age < rc.MinFresh:
		f.use, f.reason = useForward, fwdRequest
	case f.noCache:
		f.use, f.reason = useForward, fwdStale
	case f.age < f.lifetime:
		f.use = useFresh
	case !f.mustRevalidate && f.age < f.lifetime+f.swr:
		f.use = useStale
	default:
		f.use, f.reason = useForward, fwdStale
	}
	return f
}

// staleIfError reports whether f may be served because the origin failed.
func (f freshness) staleIfError(x *exchange) bool {
	return !f.mustRevalidate && !f.noCache && !x.reqCC.NoCache && f.age < f.lifetime+f.sie
}

// lookup consults L1, then L2. It returns a servable entry with its layer,
// or nil; either way it leaves in x the generations read (FetchGen of a
// fill) and the best stale entry, for revalidation and stale-if-error.
func (g *Gateway) lookup(ctx context.Context, x *exchange, now time.Time) (*Entry, string, freshness) {
	e, key := g.get(ctx, g.cfg.L1, stats.L1, x, &x.gen1, &x.l1Down)
	var f1 freshness
	if e != nil {
		f1 = g.evaluate(x, e, now)
		if f1.use == useFresh {
			x.rec.Hit(stats.L1)
			return e, stats.L1, f1
		}
	}
	// Past a fresh L1 hit, the key may be kept (an L2 hit's copy to L1,
	// fills, coalescing, stale entries): it stops aliasing the exchange's
	// buffer (exchange.keyBuf).
	if key == x.key {
		key = x.ownKey()
	} else {
		x.ownKey()
	}
	if e != nil {
		x.setStale(e, key, f1)
	}
	if g.cfg.L2 == nil {
		if e != nil && f1.use == useStale {
			x.rec.Hit(stats.L1)
			return e, stats.L1, f1
		}
		x.rec.Miss(stats.L1)
		return nil, "", f1
	}
	// A stale L1 copy may have been refreshed in L2 by another instance.
	e2, key2 := g.get(ctx, g.cfg.L2, stats.L2, x, &x.gen2, &x.l2Down)
	if e2 != nil && e2.derived == nil {
		// Derive once for the evaluation, the copy to L1 and the answer,
		// on a copy: the layer's entry may be shared.
		c := *e2
		c.derived = deriveEntry(&c, c.Header(), &g.rules)
		e2 = &c
	}
	if e2 != nil {
		f2 := g.evaluate(x, e2, now)
		if f2.use != useForward && (f2.use == useFresh || e == nil || f1.use != useStale) {
			x.rec.Miss(stats.L1)
			x.rec.Hit(stats.L2)
			g.copyToL1(ctx, x, key2, e2, f2)
			return e2, stats.L2, f2
		}
		if x.stale == nil || f2.age < x.staleF.age {
			x.setStale(e2, key2, f2)
		}
	}
	x.rec.Miss(stats.L2)
	if e != nil && f1.use == useStale {
		x.rec.Hit(stats.L1)
		return e, stats.L1, f1
	}
	x.rec.Miss(stats.L1)
	return nil, "", freshness{}
}

// ownKey gives x.key its own bytes, unless it already has them, and
// returns it.
func (x *exchange) ownKey() string {
	if len(x.keyBuf) > 0 && unsafe.StringData(x.key) == unsafe.SliceData(x.keyBuf) {
		x.key = strings.Clone(x.key)
	}
	return x.key
}

// get reads key from one layer, following a variant record to the variant
// the request selects. A layer error is a miss (and is logged, rate
// limited); down then tells the fill to skip the layer, whose generation is
// unknown.
func (g *Gateway) get(ctx context.Context, s Store, layer string, x *exchange, gen *uint64, down *bool) (*Entry, string) {
	e, gn, err := s.Get(ctx, x.d.Tenant, x.key)
	if err != nil {
		*down = true
		g.warn.layer(layer, "get", err)
		return nil, ""
	}
	*gen = gn
	if e == nil {
		return nil, ""
	}
	x.found = true
	if e.Status != 0 {
		return e, x.key
	}
	if len(e.Vary) == 0 {
		return nil, ""
	}
	x.vary, x.varyRec = e.Vary, e
	vk := variantKey(x.key, e.Vary, x.req, x.d.Locales)
	v, _, err := s.Get(ctx, x.d.Tenant, vk)
	if err != nil {
		*down = true
		g.warn.layer(layer, "get", err)
		return nil, ""
	}
	if v == nil || v.Status == 0 {
		x.varyMiss = true
		return nil, ""
	}
	return v, vk
}

// copyToL1 stores an L2 hit in L1, stamped with the L1 generation read
// before L2 was: an invalidation of L1 in between makes the copy dead.
func (g *Gateway) copyToL1(ctx context.Context, x *exchange, key string, e *Entry, f freshness) {
	// A softly invalidated entry would lose its mark in L1 (stamped with
	// L1's generation, read after the soft invalidation).
	if x.l1Down || f.soft {
		return
	}
	ttl := storeTTL(f, g.cfg.MaxTTL)
	if ttl <= 0 {
		return
	}
	c := *e
	c.FetchGen = x.gen1
	if key != x.key && len(x.vary) > 0 {
		rec := &Entry{Vary: x.vary, Tags: e.Tags, FetchGen: x.gen1, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime}
		if err := g.cfg.L1.Set(ctx, x.d.Tenant, x.key, rec, ttl); err != nil {
			g.warn.layer(stats.L1, "set", err)
			return
		}
	}
	if err := g.cfg.L1.Set(ctx, x.d.Tenant, key, &c, ttl); err != nil {
		g.warn.layer(stats.L1, "set", err)
		return
	}
	if x.d.AutoTTL != nil {
		g.auto.stored(x.d.Rule, *x.d.AutoTTL, x.d.Tenant, key, e.Tags, e.RequestTime)
	}
}

// storeTTL is how long a layer keeps a response: its remaining freshness
// plus the longest stale window it may still be served in or, for one that
// can be revalidated, the time it is kept for that, capped.
func storeTTL(f freshness, maxTTL time.Duration) time.Duration {
	fresh := f.lifetime - f.age
	ttl := fresh
	if !f.mustRevalidate && !f.noCache {
		ttl += max(f.swr, f.sie)
	}
	if f.keep > 0 {
		// Kept from when it goes stale, or from now when it already is.
		ttl = max(ttl, max(fresh, 0)+f.keep)
	}
	return min(ttl, maxTTL)
}

// conditional reports whether the request carries a validator to check.
func conditional(h http.Header) bool {
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0
}
