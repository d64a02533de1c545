package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/stats"
)

// flightResult is what a coalesced fetch hands its waiters: the entry it
// stored and under which key, or nil when the response was not storable
// (private, Set-Cookie, too large, no freshness): waiters then make their
// own request, so nobody is handed a response meant for someone else.
type flightResult struct {
	e   *Entry
	key string
}

// fetch gets a response from the origin for a cache miss, coalescing
// concurrent misses of one key in this instance (singleflight) and, with a
// FillLock, across instances.
func (g *Gateway) fetch(w http.ResponseWriter, r *http.Request, x *exchange) {
	leader := false
	var aborted any
	v, _, _ := g.flight.Do(x.key, func() (res any, err error) {
		leader = true
		// ReverseProxy panics with http.ErrAbortHandler when the leader's
		// client goes away mid-body. That is the leader's business: the
		// waiters still get the entry, which was stored before the copy.
		defer func() {
			if p := recover(); p != nil {
				aborted = p
				res = flightResult{x.entry, x.entryKey}
			}
		}()
		g.fetchLocked(w, r, x)
		return flightResult{x.entry, x.entryKey}, nil
	})
	if aborted != nil {
		panic(aborted)
	}
	if leader {
		return
	}
	res := v.(flightResult)
	if res.e != nil && g.sameVariant(x, res) {
		g.m.count(outcomeCollapsed)
		age, status := g.collapsedStatus(x, res.e)
		g.writeEntry(w, x, res.e, age, status)
		return
	}
	g.forward(w, r, x)
}

// sameVariant reports whether the leader's entry is the variant x's request
// selects.
func (g *Gateway) sameVariant(x *exchange, res flightResult) bool {
	if len(res.e.Vary) == 0 {
		return res.key == x.key
	}
	return res.key == variantKey(x.key, res.e.Vary, x.req, x.d.Locales)
}

func (g *Gateway) collapsedStatus(x *exchange, e *Entry) (time.Duration, string) {
	f := g.evaluate(x, e, g.now())
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", x.forwardReason())
	s.flag("collapsed")
	s.int("ttl", seconds(f.lifetime-f.age))
	return f.age, s.String()
}

// fetchLocked is the leader's fetch. With a FillLock and an L2, one
// instance fetches; the others serve what stale they may, or poll L2 for
// the entry until the lock's TTL and then fetch themselves. A lock error
// is a lock not needed: the origin is asked.
func (g *Gateway) fetchLocked(w http.ResponseWriter, r *http.Request, x *exchange) {
	if g.cfg.FillLock == nil || g.cfg.L2 == nil || x.l2Down {
		g.forward(w, r, x)
		return
	}
	release, acquired, err := g.cfg.FillLock.Acquire(r.Context(), x.d.Tenant, x.key, g.cfg.LockTTL)
	if err != nil {
		g.warn.layer("lock", "acquire", err)
		g.forward(w, r, x)
		return
	}
	if acquired {
		defer release()
		g.forward(w, r, x)
		return
	}
	if x.stale != nil && !x.staleF.mustRevalidate && !x.staleF.noCache && x.staleF.reason != fwdRequest {
		g.m.count(outcomeCollapsed)
		s := newStatus(g.cfg.CacheName)
		s.token("fwd", fwdStale)
		s.flag("collapsed")
		s.int("ttl", seconds(x.staleF.lifetime-x.staleF.age))
		g.writeEntry(w, x, x.stale, x.staleF.age, s.String())
		return
	}
	e, key, release := g.awaitFill(r.Context(), x)
	if e != nil {
		x.entry, x.entryKey = e, key
		g.m.count(outcomeCollapsed)
		age, status := g.collapsedStatus(x, e)
		g.writeEntry(w, x, e, age, status)
		return
	}
	if release != nil {
		defer release()
	}
	g.forward(w, r, x)
}

// awaitFill polls L2 for the entry another instance is fetching. Once the
// lock is free again without a fresh entry in L2 (the leader's fill was
// invalidated while in flight, or was not storable), the waiter takes the
// lock and fetches itself (release is then non-nil) instead of polling
// for an entry that will not come until the lock's TTL.
func (g *Gateway) awaitFill(ctx context.Context, x *exchange) (e *Entry, key string, release func()) {
	deadline := time.Now().Add(g.cfg.LockTTL)
	delay := 5 * time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, "", nil
		case <-t.C:
		}
		var gen uint64
		var down bool
		probe := *x
		probe.vary, probe.varyMiss = nil, false
		if e, key := g.get(ctx, g.cfg.L2, stats.L2, &probe, &gen, &down); e != nil {
			if f := g.evaluate(x, e, g.now()); f.use == useFresh {
				return e, key, nil
			}
		}
		if down {
			return nil, "", nil
		}
		rel, acquired, err := g.cfg.FillLock.Acquire(ctx, x.d.Tenant, x.key, g.cfg.LockTTL)
		if err != nil {
			return nil, "", nil
		}
		if acquired {
			// The holder may have stored its entry and released the lock
			// between the look above and this acquisition: look once more
			// rather than fetch what is already there.
			if e, key := g.get(ctx, g.cfg.L2, stats.L2, &probe, &gen, &down); e != nil {
				if f := g.evaluate(x, e, g.now()); f.use == useFresh {
					rel()
					return e, key, nil
				}
			}
			return nil, "", rel
		}
		delay = min(2*delay, 50*time.Millisecond)
		t.Reset(delay)
	}
	return nil, "", nil
}

// revalidateAsync refreshes a stale entry served under
// stale-while-revalidate: one background request per key at a time,
// detached from the client, bounded by the origin timeout.
func (g *Gateway) revalidateAsync(r *http.Request, x *exchange, e *Entry, f freshness) {
	if g.closed.Load() {
		return
	}
	if _, busy := g.revalidating.LoadOrStore(x.key, struct{}{}); busy {
		return
	}
	bx := *x
	bx.kind = kindBackground
	bx.rec = stats.Request{}
	bx.method = http.MethodGet
	bx.stale, bx.staleF = e, f
	br := r.Clone(context.WithoutCancel(r.Context()))
	br.Method = http.MethodGet
	bx.req = br.Header // the client's request is done with before this is
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer g.revalidating.Delete(x.key)
		g.forward(&discardWriter{}, br, &bx)
	}()
}
