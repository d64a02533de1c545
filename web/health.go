package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/stats"
)

// Defaults of GET /api/v1/health/prefix's parameters.
const (
	DefaultPrefixMinHitRatio  = 0.5
	DefaultPrefixMinRequests  = 20
	DefaultPrefixHealthWindow = 5 * time.Minute
)

// PrefixHealth is the body of GET /api/v1/health/prefix.
type PrefixHealth struct {
	Prefix string `json:"prefix"`
	// Status is "ok", "below_threshold" (answered 503) or
	// "insufficient_data" (fewer than MinRequests requests in the window:
	// too few to judge, answered 200).
	Status string `json:"status"`
	// Requests and HitRatio are the cluster's, over WindowSeconds (less
	// when the instances have not run that long).
	Requests      uint64  `json:"requests"`
	HitRatio      float64 `json:"hit_ratio"`
	WindowSeconds float64 `json:"window_seconds"`
	MinHitRatio   float64 `json:"min_hit_ratio"`
	MinRequests   uint64  `json:"min_requests"`
}

// prefixWindow remembers the cluster's cumulative counts per path prefix
// at each closed history bucket, so a hit ratio can be taken over a recent
// window rather than since start (where a drop would take hours to show).
type prefixWindow struct {
	mu   sync.Mutex
	ring []prefixMark
	next int
}

type prefixMark struct {
	t    time.Time
	rows map[string]Point
}

func newPrefixWindow(n int) *prefixWindow { return &prefixWindow{ring: make([]prefixMark, max(n, 1))} }

func (p *prefixWindow) mark(snap stats.Snapshot) {
	rows := make(map[string]Point, len(snap.Prefixes))
	for k, c := range snap.Prefixes {
		rows[k] = Point{Requests: c.Requests, Origin: c.Layers[stats.Origin].Hits}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring[p.next] = prefixMark{t: snap.Time, rows: rows}
	p.next = (p.next + 1) % len(p.ring)
}

// since returns the oldest mark taken at or after from; ok is false when
// there is none.
func (p *prefixWindow) since(from time.Time) (prefixMark, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best prefixMark
	for _, m := range p.ring {
		if m.t.IsZero() || m.t.Before(from) {
			continue
		}
		if best.t.IsZero() || m.t.Before(best.t) {
			best = m
		}
	}
	return best, !best.t.IsZero()
}

// prefixHealth is GET /api/v1/health/prefix?prefix=/products: the
// cluster's hit ratio for paths under a first segment over the last
// window, 200 at or above min_hit_ratio, 503 below, for a load balancer's
// or a monitor's health check.
func (s *Server) prefixHealth(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if prefix == "" || prefix[0] != '/' || stats.Prefix(prefix) != prefix {
		return fmt.Errorf("%w: prefix=%q: a path's first segment, such as /products (the stats count paths by their first segment)", ErrBadRequest, prefix)
	}
	minRatio, err := floatParam(q.Get("min_hit_ratio"), DefaultPrefixMinHitRatio, 0, 1, "min_hit_ratio")
	if err != nil {
		return err
	}
	minReq, err := floatParam(q.Get("min_requests"), DefaultPrefixMinRequests, 0, 1e12, "min_requests")
	if err != nil {
		return err
	}
	window := DefaultPrefixHealthWindow
	if v := q.Get("window"); v != "" {
		if window, err = time.ParseDuration(v); err != nil || window < s.cfg.SampleInterval || window > s.cfg.HistoryWindow {
			return fmt.Errorf("%w: window=%q: a duration from %v to %v", ErrBadRequest, v, s.cfg.SampleInterval, s.cfg.HistoryWindow)
		}
	}
	snap := s.clusterSnapshot(r.Context()).Snapshot
	cur := snap.Prefixes[prefix]
	got := Point{Requests: cur.Requests, Origin: cur.Layers[stats.Origin].Hits}
	from := snap.Time.Add(-window)
	seconds := snap.UptimeSeconds
	if m, ok := s.prefixes.since(from); ok {
		old := m.rows[prefix]
		// A total that went down is a counter reset (an instance left):
		// the current counts are the best measure left.
		if got.Requests >= old.Requests && got.Origin >= old.Origin {
			got = Point{Requests: got.Requests - old.Requests, Origin: got.Origin - old.Origin}
			seconds = snap.Time.Sub(m.t).Seconds()
		}
	}
	h := PrefixHealth{Prefix: prefix, Status: "ok", Requests: got.Requests, WindowSeconds: seconds,
		MinHitRatio: minRatio, MinRequests: uint64(minReq)}
	if got.Requests > 0 {
		h.HitRatio = 1 - float64(got.Origin)/float64(got.Requests)
	}
	code := http.StatusOK
	switch {
	case got.Requests < h.MinRequests:
		h.Status = "insufficient_data"
	case h.HitRatio < minRatio:
		h.Status, code = "below_threshold", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
	return nil
}

func floatParam(v string, def, lo, hi float64, name string) (float64, error) {
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < lo || f > hi {
		return 0, fmt.Errorf("%w: %s=%q: a number from %v to %v", ErrBadRequest, name, v, lo, hi)
	}
	return f, nil
}
