package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

// flightResult is what a coalesced fetch hands its waiters:
//   - the entry it stored and under which key: waiters of that variant
//     are answered from it;
//   - failed, the status of an origin that failed or timed out: waiters
//     answer with it (or stale, where stale-if-error allows) at once
//     instead of each asking an origin that just failed;
//   - again: the leader's answer was its own (a range, a precondition the
//     origin evaluates, a request no-store, a client that left, another
//     variant): waiters coalesce again, one of them leading;
//   - none of these (private, Set-Cookie, too large, no freshness): waiters
//     make their own requests, so nobody is handed a response meant for
//     someone else (PITFALLS 4).
type flightResult struct {
	e      *Entry
	key    string
	failed int
	// answer is the origin's 5xx answer behind failed, when it may be
	// handed to the waiters; nil: they are answered with the status.
	answer *failedAnswer
	again  bool
}

// failedAnswer is a 5xx answer of the origin that was not stored (no
// freshness, no-store, ...): the waiters of its fetch get a copy at once
// rather than each asking an origin that just failed.
type failedAnswer struct {
	status int
	header http.Header // as the leader's client got it
	body   []byte
}

// maxFailedBody bounds the body of a failedAnswer; a longer one is not
// kept and the waiters are answered with the status alone.
const maxFailedBody = 64 << 10

// maxRounds bounds how many times a waiter coalesces again before it
// fetches alone: a stream of range requests cannot starve it.
const maxRounds = 4

// failureHold is how long a fill lock stays marked with its holder's
// failure, so the waiters of other instances, which poll it, see it.
const failureHold = time.Second

// flight is one origin fetch that concurrent misses of a key wait on.
type flight struct {
	done chan struct{}
	res  flightResult
}

// flights coalesces the misses of one instance by key. Unlike a
// singleflight, a waiter can leave when its client does, and it sees why
// the leader has no entry for it.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// join returns the flight of key, and whether the caller leads it (and
// must land it).
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

// land hands res to f's waiters; later misses start a new flight.
func (fs *flights) land(key string, f *flight, res flightResult) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	f.res = res
	close(f.done)
}

// fetch gets a response from the origin for a cache miss, coalescing
// concurrent misses of one key in this instance and, with a FillLock,
// across instances.
func (g *Gateway) fetch(w http.ResponseWriter, r *http.Request, x *exchange) {
	for round := 1; ; round++ {
		f, leader := g.flight.join(x.key)
		if leader {
			g.lead(w, r, x, f, round)
			return
		}
		g.m.waiting.Inc()
		select {
		case <-f.done:
		case <-r.Context().Done():
		}
		g.m.waiting.Dec()
		if r.Context().Err() != nil {
			w.WriteHeader(http.StatusBadGateway) // nobody reads it
			return
		}
		res := f.res
		switch {
		case res.e != nil && g.sameVariant(x, res):
			g.serveCollapsed(w, x, res.e)
			return
		case res.failed != 0:
			g.answerFailure(w, x, res.failed, res.answer)
			return
		case (res.again || res.e != nil) && round < maxRounds:
			continue
		}
		g.forward(w, r, x)
		return
	}
}

// lead fetches for f's waiters and lands f with the outcome, also when
// the proxy panics because the leader's client went away mid-body (the
// entry, if any, was stored before the copy).
//
// A request that leads after waiting on another flight first looks in the
// layers again (as groupcache does inside its flight): that flight may have
// stored what it needs while it was not yet waiting on the next one.
func (g *Gateway) lead(w http.ResponseWriter, r *http.Request, x *exchange, f *flight, round int) {
	again := true
	var once sync.Once
	x.land = func(res flightResult) { once.Do(func() { g.flight.land(x.key, f, res) }) }
	defer func() {
		res := flightResult{again: again || ownAnswer(x) || r.Context().Err() != nil}
		switch {
		case x.entry != nil:
			res = flightResult{e: x.entry, key: x.entryKey}
		case x.failed != 0:
			res = flightResult{failed: x.failed, answer: x.failedAnswer}
		}
		x.land(res)
	}()
	if round > 1 {
		for _, l := range []struct {
			s    Store
			name string
		}{{g.cfg.L1, stats.L1}, {g.cfg.L2, stats.L2}} {
			if l.s == nil {
				continue
			}
			if e, key, _ := g.freshIn(r.Context(), l.s, l.name, x); e != nil {
				x.entry, x.entryKey = e, key
				g.serveCollapsed(w, x, e)
				return
			}
		}
	}
	again = g.fetchLocked(w, r, x)
}

// ownAnswer reports whether the origin's answer to x's request is that
// request's alone, whatever the response says: a range, a precondition
// the origin evaluates, or a request that forbids storing.
func ownAnswer(x *exchange) bool {
	h := x.req
	return x.reqCC.NoStore || len(h["Range"]) > 0 || len(h["If-Range"]) > 0 ||
		len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
}

// answerFailure answers a request whose coalesced fetch failed with
// status: stale where stale-if-error allows, else the origin's answer when
// the leader kept it (a), else the failure.
func (g *Gateway) answerFailure(w http.ResponseWriter, x *exchange, status int, a *failedAnswer) {
	x.failed = status
	if g.serveStaleIfError(w, x, true) {
		return
	}
	g.m.count(x.obs, outcomeError)
	if a == nil {
		g.writeFailure(w, x.forwardReason(), status, true, "")
		return
	}
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", x.forwardReason())
	s.flag("collapsed")
	s.int("fwd-status", int64(a.status))
	h.Set("Cache-Status", s.String())
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// shareFailure marks x's fetch failed with the origin's 5xx answer, which
// the gateway does not store, so that the requests waiting on it are
// answered at once (or from stale) instead of each asking the origin. The
// answer itself is kept for them only when it is no one's own: not
// private, no Set-Cookie (PITFALLS 4), and a body of at most
// maxFailedBody; otherwise they get the status with the gateway's body.
func (g *Gateway) shareFailure(resp *http.Response, x *exchange, d policy.Decision) {
	x.failed = resp.StatusCode
	cc, _ := headers.ParseCacheControl(resp.Header["Cache-Control"])
	if d.Private || d.Bypass || cc.Private || x.method != http.MethodGet {
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFailedBody+1))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	if err != nil || len(body) > maxFailedBody {
		return
	}
	x.failedAnswer = &failedAnswer{status: resp.StatusCode, header: resp.Header.Clone(), body: body}
}

// sameVariant reports whether the leader's entry is the variant x's request
// selects.
func (g *Gateway) sameVariant(x *exchange, res flightResult) bool {
	if len(res.e.Vary) == 0 {
		return res.key == x.key
	}
	return res.key == variantKey(x.key, res.e.Vary, x.req, x.d.Locales)
}

// serveCollapsed answers x from e, an entry another request's fetch stored.
func (g *Gateway) serveCollapsed(w http.ResponseWriter, x *exchange, e *Entry) {
	g.m.count(x.obs, outcomeCollapsed)
	f := g.evaluate(x, e, g.now())
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", x.forwardReason())
	s.flag("collapsed")
	s.int("ttl", seconds(f.lifetime-f.age))
	g.writeEntry(w, x, e, f.age, s.String())
}

// fetchLocked is the leader's fetch. With a FillLock and an L2, one
// instance fetches, holding the lock for as long as it does; the others
// serve what stale they may, or poll L2 for the entry until the lock is
// free and then fetch themselves; a holder's failure reaches them through
// the lock. A lock error is a lock not
// needed: the origin is asked. again says this instance's waiters should
// coalesce again: the answer came from no fetch of this request's own.
func (g *Gateway) fetchLocked(w http.ResponseWriter, r *http.Request, x *exchange) (again bool) {
	if g.cfg.FillLock == nil || g.cfg.L2 == nil || x.l2Down || x.noL2 {
		g.forward(w, r, x)
		return false
	}
	fill, err := g.cfg.FillLock.Acquire(r.Context(), x.d.Tenant, x.key, g.cfg.LockTTL)
	if err != nil {
		g.warn.layer("lock", "acquire", err)
		g.forward(w, r, x)
		return false
	}
	if fill.Acquired {
		g.holdWhile(r.Context(), x, fill, func() { g.forward(w, r, x) })
		return false
	}
	if fill.Failed != 0 {
		g.answerFailure(w, x, fill.Failed, nil)
		return false
	}
	// Stale content is served while another instance fetches, except what
	// a soft invalidation made stale, past its window (else it would be).
	if x.stale != nil && !x.staleF.mustRevalidate && !x.staleF.noCache && x.staleF.reason != fwdRequest && !x.staleF.soft {
		g.m.count(x.obs, outcomeCollapsed)
		s := newStatus(g.cfg.CacheName)
		s.token("fwd", fwdStale)
		s.flag("collapsed")
		s.int("ttl", seconds(x.staleF.lifetime-x.staleF.age))
		g.writeEntry(w, x, x.stale, x.staleF.age, s.String())
		return true
	}
	e, key, fill := g.awaitFill(r.Context(), x)
	switch {
	case e != nil:
		x.entry, x.entryKey = e, key
		g.serveCollapsed(w, x, e)
		return false
	case fill.Failed != 0:
		g.answerFailure(w, x, fill.Failed, nil)
		return false
	case fill.Acquired:
		g.holdWhile(r.Context(), x, fill, func() { g.forward(w, r, x) })
		return false
	}
	g.forward(w, r, x)
	return false
}

// holdWhile runs fetch holding fill's lock: it re-arms the lock every
// third of LockTTL (so one late refresh does not lose it), and the waiters
// of other instances keep waiting for a fetch that outlasts LockTTL (up to
// the origin timeout) instead of fetching too. It then releases the lock
// with the fetch's outcome, also when fetch panics.
func (g *Gateway) holdWhile(ctx context.Context, x *exchange, fill Fill, fetch func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		if fill.Refresh == nil {
			return
		}
		t := time.NewTicker(g.cfg.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.LockTTL/3)
			err := fill.Refresh(rctx)
			cancel()
			if err != nil {
				g.warn.layer("lock", "refresh", err)
				return
			}
		}
	}()
	var once sync.Once
	release := func(failed int) {
		once.Do(func() {
			close(stop)
			<-done
			fill.Release(failed, failureHold)
		})
	}
	// Let go with the local waiters when the fetch turns out to store
	// nothing (landEarly): else the other instances' waiters, and this
	// instance's next leader, would wait for this client's whole body.
	x.unlock = func() { release(0) }
	defer func() { release(x.failed) }()
	fetch()
}

// awaitFill polls L2 for the entry another instance is fetching. Once the
// lock is free again without a fresh entry in L2 (the leader's fill was
// invalidated while in flight, or was not storable), the waiter takes the
// lock and fetches itself (fill is then acquired) instead of polling for
// an entry that will not come until the lock's TTL; once it is marked
// failed, the waiter answers with that failure (fill.Failed).
func (g *Gateway) awaitFill(ctx context.Context, x *exchange) (e *Entry, key string, fill Fill) {
	g.m.waiting.Inc()
	defer g.m.waiting.Dec()
	// The holder keeps its lock for as long as its fetch (bounded by the
	// origin timeout) and a dead holder's lock expires within LockTTL: past
	// both, something is wrong with the lock, and the waiter fetches.
	deadline := time.Now().Add(g.cfg.OriginTimeout + g.cfg.LockTTL)
	delay := 5 * time.Millisecond
	t := time.NewTimer(delay)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, "", Fill{}
		case <-t.C:
		}
		e, key, down := g.freshIn(ctx, g.cfg.L2, stats.L2, x)
		if e != nil {
			return e, key, Fill{}
		}
		if down {
			return nil, "", Fill{}
		}
		fill, err := g.cfg.FillLock.Acquire(ctx, x.d.Tenant, x.key, g.cfg.LockTTL)
		if err != nil {
			return nil, "", Fill{}
		}
		if fill.Acquired {
			// The holder may have stored its entry and released the lock
			// between the look above and this acquisition: look once more
			// rather than fetch what is already there.
			if e, key, _ := g.freshIn(ctx, g.cfg.L2, stats.L2, x); e != nil {
				fill.Release(0, 0)
				return e, key, Fill{}
			}
			return nil, "", fill
		}
		if fill.Failed != 0 {
			return nil, "", fill
		}
		delay = min(2*delay, 50*time.Millisecond)
		t.Reset(delay)
	}
	return nil, "", Fill{}
}

// freshIn returns the fresh entry x's request selects in one layer, if
// any, leaving x as it is; down says the layer failed.
func (g *Gateway) freshIn(ctx context.Context, s Store, layer string, x *exchange) (*Entry, string, bool) {
	var gen uint64
	var down bool
	probe := *x
	probe.vary, probe.varyMiss = nil, false
	if e, key := g.get(ctx, s, layer, &probe, &gen, &down); e != nil && g.evaluate(x, e, g.now()).use == useFresh {
		return e, key, false
	}
	return nil, "", down
}

// revalidateAsync refreshes a stale entry served under
// stale-while-revalidate (or a soft invalidation), or a fresh one chosen for
// early refresh: one background request per key at a time,
// detached from the client, bounded by the origin timeout.
func (g *Gateway) revalidateAsync(r *http.Request, x *exchange, e *Entry, f freshness) {
	if g.closed.Load() {
		return
	}
	// An early refresh starts from a fresh hit, whose key still lives in
	// the exchange's recycled buffer: the map and the goroutine keep it.
	x.ownKey()
	if _, busy := g.revalidating.LoadOrStore(x.key, struct{}{}); busy {
		return
	}
	// The stale copy this request read may have been refreshed since by a
	// revalidation that ended between that read and now: then there is
	// nothing to do, and a second one would fetch the page again.
	if len(x.vary) == 0 {
		if cur, _, err := g.cfg.L1.Get(r.Context(), x.d.Tenant, x.key); err == nil && cur != nil && cur.ResponseTime.After(e.ResponseTime) {
			g.revalidating.Delete(x.key)
			return
		}
	}
	bx := *x
	bx.keyBuf = nil // the buffer goes back to the pool with x
	bx.kind = kindBackground
	bx.obs = nil // the client's request is over
	bx.rec = stats.Request{}
	bx.method = http.MethodGet
	bx.stale, bx.staleF = e, f
	br := r.Clone(context.WithoutCancel(r.Context()))
	br.Method = http.MethodGet
	bx.req = br.Header // the client's request is done with before this is
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		// bx's, not x's: a fresh hit's exchange is recycled once answered.
		defer g.revalidating.Delete(bx.key)
		g.refreshLocked(br, &bx)
	}()
}

// refreshLocked runs a background refresh holding the key's fill lock,
// when there is one: one refresh across all instances. Another holder (a
// refresh or a miss's fetch) is already refreshing the key into L2, where
// this instance's next lookup finds it. A lock error is a lock not needed.
func (g *Gateway) refreshLocked(r *http.Request, x *exchange) {
	if g.cfg.FillLock == nil || g.cfg.L2 == nil || x.l2Down {
		g.forward(&discardWriter{}, r, x)
		return
	}
	fill, err := g.cfg.FillLock.Acquire(r.Context(), x.d.Tenant, x.key, g.cfg.LockTTL)
	switch {
	case err != nil:
		g.warn.layer("lock", "acquire", err)
		g.forward(&discardWriter{}, r, x)
	case fill.Acquired:
		g.holdWhile(r.Context(), x, fill, func() { g.forward(&discardWriter{}, r, x) })
	default:
		g.m.refreshSkipped.Inc()
	}
}
