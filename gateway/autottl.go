package gateway

import (
	"hash/maphash"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// autoTTLs learns the TTL of each "ttl: auto" route from what this
// instance observes of it:
//   - revalidations: a 200 with a new validator is a change, a 304 (or a
//     200 with the same validator) is none; the entry's age is the time
//     observed;
//   - invalidation events: a hard invalidation that reaches an entry this
//     instance stored (or copied from L2) for the route is a change of that
//     URL, observed over the entry's life. A soft one is left to the
//     revalidation that follows it, which says whether the content really
//     changed (and counts it as announced). Invalidations of a whole
//     tenant say nothing about a URL and are not counted;
//   - reads: how often each URL of the route is read (readWindow).
//
// The estimate of the mean interval between changes is the observed life
// over the changes seen (a Poisson process); autottl_rule.go turns it, the
// read rate and whether events cover the route into the TTL. Routes are
// few (the policy's rules), so the state is one record per rule name; each
// instance learns from its own traffic.
type autoTTLs struct {
	seed maphash.Seed // hashes keys for the URL count; set by New

	mu     sync.RWMutex // read on every request of an auto route
	routes map[string]*autoRoute
}

// autoRoute is one route's evidence and the TTL it gives.
type autoRoute struct {
	cfg   policy.AutoTTL // as last seen, defaults applied
	ev    autoEvidence
	d     autoDecision
	keys  trackedKeys
	reads readWindow
}

// autoHalfAt halves a route's evidence once it holds this many
// observations, so that the estimate follows a change of behaviour.
const autoHalfAt = 256

// AutoTTL is the state of one "ttl: auto" route, for the admin API.
type AutoTTL struct {
	Route    string
	TTL      time.Duration
	Min, Max time.Duration
	Fraction float64
	// Revalidations observed, the Changes they found that no event
	// announced, and EventChanges: changes announced by invalidation.
	Revalidations, Changes, EventChanges int
	// Observed is the summed life of the entries observed.
	Observed time.Duration
	// ChangeInterval is the mean interval between changes; 0 when none
	// was seen.
	ChangeInterval time.Duration
	// ReadEvery is the mean time between reads of one URL; 0 until the
	// route was watched for autoReadPeriod.
	ReadEvery time.Duration
	// Covered: invalidation events announce the route's changes, so its
	// TTL is its maximum.
	Covered bool
	// Reason says how TTL was reached, in words.
	Reason string
}

// ttl is the route's current TTL: its minimum until something is learned.
func (a *autoTTLs) ttl(route string, cfg policy.AutoTTL) time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if r := a.routes[route]; r != nil {
		return r.d.ttl
	}
	return cfg.WithDefaults().Min
}

// route is route's record, created with cfg when missing and decided
// again at now when its bounds changed (a reload); a.mu is held for
// writing.
func (a *autoTTLs) route(name string, cfg policy.AutoTTL, now time.Time) *autoRoute {
	if a.routes == nil {
		a.routes = map[string]*autoRoute{}
	}
	r := a.routes[name]
	if r == nil {
		r = &autoRoute{}
		a.routes[name] = r
	}
	if c := cfg.WithDefaults(); c != r.cfg {
		r.cfg = c
		r.decide(now)
	}
	return r
}

// decide sets r's TTL from its evidence at now; a.mu is held for writing.
func (r *autoRoute) decide(now time.Time) {
	r.ev.readEvery = r.reads.every(now)
	r.d = decideAutoTTL(r.ev, r.cfg)
}

// halve halves r's evidence once it is large enough; a.mu is held.
func (r *autoRoute) halve() {
	e := &r.ev
	if e.revalidations+e.events >= autoHalfAt {
		e.life, e.revalidations, e.changes, e.events = e.life/2, e.revalidations/2, e.changes/2, e.events/2
	}
}

// read counts a client's read of key on route at now. Routes are never
// removed, so r stays valid once the lock is released.
func (a *autoTTLs) read(route string, cfg policy.AutoTTL, key string, now time.Time) {
	a.mu.RLock()
	r := a.routes[route]
	a.mu.RUnlock()
	if r == nil {
		a.mu.Lock()
		r = a.route(route, cfg, now)
		a.mu.Unlock()
	}
	if r.reads.add(maphash.String(a.seed, key), now) {
		// A new period: the read rate moved on, and with it the TTL.
		a.mu.Lock()
		r.decide(now)
		a.mu.Unlock()
	}
}

// observe records a revalidation of an entry of route at age, whether the
// origin's answer changed it, and whether an event announced that (a soft
// invalidation made the entry stale).
func (a *autoTTLs) observe(route string, cfg policy.AutoTTL, age time.Duration, changed, announced bool, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.route(route, cfg, now)
	r.halve()
	r.ev.life += max(age, 0)
	r.ev.revalidations++
	switch {
	case changed && announced:
		r.ev.events++
	case changed:
		r.ev.changes++
	}
	r.decide(now)
}

// stored records that key (of tenant, carrying tags) of route now holds
// content that was current at since, for invalidations to find.
func (a *autoTTLs) stored(route string, cfg policy.AutoTTL, tenant, key string, tags []string, since time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.route(route, cfg, since).keys.store(tenant, strings.Clone(key), tags, since)
}

// invalidated counts, for each auto route, the entries a hard invalidation
// of tags of tenant at at reached as changes.
func (a *autoTTLs) invalidated(tenant string, tags []string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.routes {
		n, life := r.keys.invalidated(tenant, tags, at)
		if n == 0 {
			continue
		}
		r.halve()
		r.ev.life += life
		r.ev.events += n
		r.decide(at)
	}
}

// AutoTTLs lists the TTL of every "ttl: auto" route this instance has
// served, decided as of now, by route name.
func (g *Gateway) AutoTTLs() []AutoTTL {
	a := &g.auto
	now := g.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AutoTTL, 0, len(a.routes))
	for name, r := range a.routes {
		r.decide(now)
		out = append(out, AutoTTL{
			Route: name, TTL: r.d.ttl, Min: r.cfg.Min, Max: r.cfg.Max, Fraction: r.cfg.Fraction,
			Revalidations: r.ev.revalidations, Changes: r.ev.changes, EventChanges: r.ev.events,
			Observed: r.ev.life, ChangeInterval: r.d.interval, ReadEvery: r.ev.readEvery,
			Covered: r.d.covered, Reason: r.d.reason,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}
