package gateway

import (
	"math"
	"net/http"
)

// DefaultEarlyRefreshBeta is the XFetch beta of Config.EarlyRefreshBeta's
// zero value: the value the XFetch paper shows optimal for a fetch time
// that does not vary much.
const DefaultEarlyRefreshBeta = 1.0

// earlyRefresh reports whether a fresh hit on e should refresh it in the
// background, before it expires: the XFetch rule (Vattani et al., "Optimal
// Probabilistic Cache Stampede Prevention"), refresh when
//
//	now − delta × beta × ln(rand) ≥ expiry
//
// with delta the entry's measured fetch time (ResponseTime − RequestTime)
// and rand uniform in (0, 1]. The closer to expiry, and the longer the
// fetch, the likelier: a hot entry is refreshed a little before it
// expires, by about one request, and readers never wait on the origin for
// it. beta is the route's, else the gateway's; 0 or less turns it off.
func (g *Gateway) earlyRefresh(x *exchange, e *Entry, f freshness) bool {
	beta := g.cfg.EarlyRefreshBeta
	if x.d.EarlyRefreshBeta != nil {
		beta = *x.d.EarlyRefreshBeta
	}
	delta := e.ResponseTime.Sub(e.RequestTime)
	if beta <= 0 || delta <= 0 {
		return false
	}
	scale, left := float64(delta)*beta, float64(f.lifetime-f.age)
	// −ln(rand) exceeds maxLogFactor with probability e^−30: far from
	// expiry, the hit path skips the random draw and the logarithm.
	if left > scale*maxLogFactor {
		return false
	}
	return -scale*math.Log(g.rand()) >= left
}

// maxLogFactor bounds −ln(rand) where early refresh is not worth a draw.
const maxLogFactor = 30

// refreshEarly starts the background refresh of a fresh hit that
// earlyRefresh chose, through the same path as stale-while-revalidate:
// one per key per instance, and one across instances under the fill lock.
func (g *Gateway) refreshEarly(r *http.Request, x *exchange, e *Entry, f freshness) {
	g.m.earlyRefreshes.Inc()
	g.revalidateAsync(r, x, e, f)
}
