package gateway

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// autoTTLs learns the TTL of each "ttl: auto" route from what its
// revalidations show: a 200 with a new validator is a change, a 304 (or a
// 200 with the same validator) is none. Modelling a URL's changes as a
// Poisson process, the estimate of the mean interval between changes is
// the observed life (the sum of the ages at which entries were
// revalidated) over the changes seen; the TTL is its route's fraction of
// that, clamped to the route's bounds. Routes are few (the policy's
// rules), so the state is one record per rule name.
type autoTTLs struct {
	mu     sync.RWMutex // read on every hit of an auto route
	routes map[string]*autoRoute
}

// autoRoute is one route's evidence and the TTL it gives.
type autoRoute struct {
	life          time.Duration // summed ages at revalidation
	changes       int
	revalidations int
	ttl           time.Duration
	reason        string
}

// autoHalfAt halves a route's evidence once it holds this many
// revalidations, so that the estimate follows a change of behaviour.
const autoHalfAt = 256

// AutoTTL is the state of one "ttl: auto" route, for the admin API.
type AutoTTL struct {
	Route         string        `json:"route"`
	TTL           time.Duration `json:"ttl"`
	Revalidations int           `json:"revalidations"`
	Changes       int           `json:"changes"`
	// Reason says how TTL was reached, in words.
	Reason string `json:"reason"`
}

// ttl is the route's current TTL: its minimum until something is learned.
func (a *autoTTLs) ttl(route string, cfg policy.AutoTTL) time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if r := a.routes[route]; r != nil {
		return r.ttl
	}
	return cfg.WithDefaults().Min
}

// observe records a revalidation of an entry of route at age, and whether
// the origin's answer changed it.
func (a *autoTTLs) observe(route string, cfg policy.AutoTTL, age time.Duration, changed bool) {
	cfg = cfg.WithDefaults()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.routes == nil {
		a.routes = map[string]*autoRoute{}
	}
	r := a.routes[route]
	if r == nil {
		r = &autoRoute{}
		a.routes[route] = r
	}
	if r.revalidations >= autoHalfAt {
		r.life, r.changes, r.revalidations = r.life/2, r.changes/2, r.revalidations/2
	}
	r.life += max(age, 0)
	r.revalidations++
	if changed {
		r.changes++
	}
	r.ttl, r.reason = autoTTL(r, cfg)
}

// autoTTL computes r's TTL and says why.
func autoTTL(r *autoRoute, cfg policy.AutoTTL) (time.Duration, string) {
	interval, what := r.life, fmt.Sprintf("no change in %d revalidations over %v of observed life", r.revalidations, r.life.Round(time.Second))
	if r.changes > 0 {
		interval = r.life / time.Duration(r.changes)
		what = fmt.Sprintf("%d changes in %d revalidations over %v of observed life: one per %v", r.changes, r.revalidations, r.life.Round(time.Second), interval.Round(time.Second))
	}
	ttl := time.Duration(float64(interval) * cfg.Fraction)
	why := fmt.Sprintf("%s; %.2f of it is %v", what, cfg.Fraction, ttl.Round(time.Second))
	switch {
	case ttl < cfg.Min:
		return cfg.Min, why + ", raised to the minimum " + cfg.Min.String()
	case ttl > cfg.Max:
		return cfg.Max, why + ", capped at the maximum " + cfg.Max.String()
	}
	return ttl, why
}

// AutoTTLs lists the learned TTL of every "ttl: auto" route that has seen
// a revalidation, by route name (the others run at their minimum).
func (g *Gateway) AutoTTLs() []AutoTTL {
	a := &g.auto
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AutoTTL, 0, len(a.routes))
	for name, r := range a.routes {
		out = append(out, AutoTTL{Route: name, TTL: r.ttl, Revalidations: r.revalidations, Changes: r.changes, Reason: r.reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}
