package headers

import (
	"net/http"
	"time"
)

// FreshnessLifetime is the response's explicit freshness lifetime for a
// shared cache (RFC 9111 4.2.1): s-maxage, else max-age, else Expires minus
// Date. ok is false when the response states none: cachegate never computes
// heuristic freshness (4.2.2), so such a response is not stored unless
// policy sets a TTL. An invalid Expires means "already expired" (lifetime 0,
// ok true), as RFC 9111 5.3 requires.
func FreshnessLifetime(cc CacheControl, h http.Header, responseTime time.Time) (lifetime time.Duration, ok bool) {
	if cc.HasSMaxAge {
		return cc.SMaxAge, true
	}
	if cc.HasMaxAge {
		return cc.MaxAge, true
	}
	exp := h.Get("Expires")
	if exp == "" {
		return 0, false
	}
	expires, err := http.ParseTime(exp)
	if err != nil {
		return 0, true
	}
	date := responseTime
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		date = d
	}
	if lifetime = expires.Sub(date); lifetime < 0 {
		lifetime = 0
	}
	return lifetime, true
}

// MustRevalidateShared reports whether a shared cache may never serve the
// response stale (must-revalidate, proxy-revalidate, or s-maxage, which
// implies proxy-revalidate per RFC 9111 5.2.2.10).
func (cc CacheControl) MustRevalidateShared() bool {
	return cc.MustRevalidate || cc.ProxyRevalidate || cc.HasSMaxAge
}
