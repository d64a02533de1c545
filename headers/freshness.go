package headers

import (
	"net/http"
	"time"
)

// FreshnessLifetime is the response's explicit freshness lifetime for a
// shared cache (RFC 9111 4.2.1): s-maxage, else max-age, else Expires minus
// Date. ok is false when the response states none (see HeuristicLifetime).
// An Expires that is not one valid HTTP-date (several field lines, a
// malformed date, "0") means "already expired" (lifetime 0, ok true), as
// RFC 9111 5.3 requires.
func FreshnessLifetime(cc CacheControl, h http.Header, responseTime time.Time) (lifetime time.Duration, ok bool) {
	if cc.HasSMaxAge {
		return cc.SMaxAge, true
	}
	if cc.HasMaxAge {
		return cc.MaxAge, true
	}
	if cc.Targeted {
		return 0, false
	}
	exp := h["Expires"]
	if len(exp) == 0 {
		return 0, false
	}
	expires, valid := singleDate(exp, responseTime)
	if !valid {
		return 0, true
	}
	date := responseTime
	if d, ok := singleDate(h["Date"], responseTime); ok {
		date = d
	}
	if lifetime = expires.Sub(date); lifetime < 0 {
		lifetime = 0
	}
	return lifetime, true
}

// HeuristicFraction is the share of a response's Last-Modified age that
// HeuristicLifetime grants it (RFC 9111 4.2.2 suggests at most 10%).
const HeuristicFraction = 10

// HeuristicLifetime is the heuristic freshness lifetime RFC 9111 4.2.2
// allows for a response without explicit freshness: a tenth of the time
// since its Last-Modified (measured at its Date, else at responseTime),
// for a heuristically cacheable status. It is 0 when none applies.
// cachegate uses it only when configured to (gateway.Config.Heuristic).
func HeuristicLifetime(status int, h http.Header, responseTime time.Time) time.Duration {
	if !HeuristicallyCacheable(status) {
		return 0
	}
	lm, ok := singleDate(h["Last-Modified"], responseTime)
	if !ok {
		return 0
	}
	date := responseTime
	if d, ok := singleDate(h["Date"], responseTime); ok {
		date = d
	}
	if age := date.Sub(lm); age > 0 {
		return age / HeuristicFraction
	}
	return 0
}

// MustRevalidateShared reports whether a shared cache may never serve the
// response stale (must-revalidate, proxy-revalidate, or s-maxage, which
// implies proxy-revalidate per RFC 9111 5.2.2.10).
func (cc CacheControl) MustRevalidateShared() bool {
	return cc.MustRevalidate || cc.ProxyRevalidate || cc.HasSMaxAge
}
