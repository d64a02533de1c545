package web

import (
	"net/http"
	"testing"
	"time"

	"github.com/cachegate/cachegate/stats"
)

// TestPrefixHealth: the hit ratio is taken over the window, not since
// start; thresholds choose 200 or 503; bad parameters are 400.
func TestPrefixHealth(t *testing.T) {
	e := newEnv(t, nil)
	for range 10 {
		q := e.rec.Begin("acme", "products", "/products/1")
		q.Miss(stats.L1)
		q.Forwarded()
	}
	// The window starts here: ten misses before it, ten hits in it.
	old := e.rec.Snapshot()
	old.Time = time.Now().Add(-time.Minute)
	e.srv.prefixes.mark(old)
	for range 10 {
		e.rec.Begin("acme", "products", "/products/2").Hit(stats.L1)
	}
	e.rec.Begin("acme", "home", "/").Hit(stats.L1)

	for _, tt := range []struct {
		query    string
		code     int
		status   string
		ratio    float64
		requests uint64
	}{
		{"prefix=/products&min_hit_ratio=0.8&min_requests=5", 200, "ok", 1, 10},
		// No mark within 30s: since start, 20 requests, half from the origin.
		{"prefix=/products&min_hit_ratio=0.8&min_requests=5&window=30s", 503, "below_threshold", 0.5, 20},
		{"prefix=/&min_hit_ratio=0.5&min_requests=5", 200, "insufficient_data", 1, 1},
		{"prefix=/none&min_requests=0", 503, "below_threshold", 0, 0},
	} {
		code, _, b := e.do(t, "GET", "/api/v1/health/prefix?"+tt.query, "", bearer(testToken))
		h := decode[PrefixHealth](t, b)
		if code != tt.code || h.Status != tt.status || h.HitRatio != tt.ratio || h.Requests != tt.requests {
			t.Errorf("%s: %d %+v, want %d %s ratio %v of %d", tt.query, code, h, tt.code, tt.status, tt.ratio, tt.requests)
		}
	}
	for _, q := range []string{"", "prefix=products", "prefix=/a/b", "prefix=/a&min_hit_ratio=2", "prefix=/a&window=1ms", "prefix=/a&min_requests=x"} {
		if code, _, b := e.do(t, "GET", "/api/v1/health/prefix?"+q, "", bearer(testToken)); code != http.StatusBadRequest {
			t.Errorf("%q: %d %s, want 400", q, code, b)
		}
	}
}
