package web

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/cachegate/cachegate/stats"
)

// LiveRows bounds the tenant and route rows pushed to dashboards.
const LiveRows = 20

// rateWindow is how many live ticks requests/s is averaged over.
const rateWindow = 5

// LayerDelta is what a layer did during one history bucket.
type LayerDelta struct {
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
}

// Point is a tenant's or route's traffic during one bucket: requests, and
// those that went to the origin.
type Point struct {
	Requests uint64 `json:"requests"`
	Origin   uint64 `json:"origin"`
}

// Sample is one history bucket: the counters' growth between two
// snapshots. Only the busiest MaxSeries tenants and routes of the bucket
// get a Point, so a bucket's size is bounded.
type Sample struct {
	// Time is the end of the bucket.
	Time     time.Time             `json:"time"`
	Seconds  float64               `json:"seconds"`
	Requests uint64                `json:"requests"`
	Layers   map[string]LayerDelta `json:"layers"`
	Tenants  map[string]Point      `json:"tenants,omitempty"`
	Routes   map[string]Point      `json:"routes,omitempty"`
}

// Row is one tenant's or route's figures since start.
type Row struct {
	Name string `json:"name"`
	stats.Counts
}

// Live is what the dashboard shows as live figures.
type Live struct {
	Time          time.Time `json:"time"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	stats.Counts
	// RPS is requests per second over the last few seconds.
	RPS float64 `json:"rps"`
	// Saved is the requests answered without the origin since start.
	Saved uint64 `json:"saved"`
	// Tenants and Routes are the busiest LiveRows rows, busiest first;
	// TenantCount and RouteCount the number of rows there are.
	Tenants     []Row `json:"tenants"`
	Routes      []Row `json:"routes"`
	TenantCount int   `json:"tenant_count"`
	RouteCount  int   `json:"route_count"`
}

// HistoryResponse is the body of GET /api/v1/history.
type HistoryResponse struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	WindowSeconds   float64  `json:"window_seconds"`
	Samples         []Sample `json:"samples"`
}

type ratePoint struct {
	t        time.Time
	requests uint64
}

// history is a ring of the last buckets, in memory: bounded by the window
// over the interval, each bucket bounded by maxSeries.
type history struct {
	mu        sync.Mutex
	ring      []Sample
	next      int
	full      bool
	maxSeries int

	base    stats.Snapshot // counters at the start of the open bucket
	hasBase bool
	recent  []ratePoint
	rate    float64
}

func newHistory(buckets, maxSeries int) *history {
	if buckets < 1 {
		buckets = 1
	}
	return &history{ring: make([]Sample, buckets), maxSeries: maxSeries}
}

// delta is cur-prev for a monotonic counter; a counter that went down was
// reset, and all of cur is new.
func delta(cur, prev uint64) uint64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}

// observe records a snapshot: it updates requests/s and, once interval
// has passed since the open bucket began, closes it and returns it.
func (h *history) observe(snap stats.Snapshot, interval time.Duration) (Sample, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()

	h.recent = append(h.recent, ratePoint{snap.Time, snap.Requests})
	if len(h.recent) > rateWindow+1 {
		h.recent = h.recent[len(h.recent)-rateWindow-1:]
	}
	first, last := h.recent[0], h.recent[len(h.recent)-1]
	if dt := last.t.Sub(first.t).Seconds(); dt > 0 {
		h.rate = float64(delta(last.requests, first.requests)) / dt
	}

	if !h.hasBase {
		h.base, h.hasBase = snap, true
		return Sample{}, false
	}
	// A tick that lands a little early still closes the bucket, so that
	// buckets do not alternate between one and two intervals wide.
	if snap.Time.Sub(h.base.Time) < interval*9/10 {
		return Sample{}, false
	}
	s := Sample{
		Time:     snap.Time,
		Seconds:  snap.Time.Sub(h.base.Time).Seconds(),
		Requests: delta(snap.Requests, h.base.Requests),
		Layers:   make(map[string]LayerDelta, len(stats.Layers)),
		Tenants:  h.points(snap.Tenants, h.base.Tenants),
		Routes:   h.points(snap.Routes, h.base.Routes),
	}
	for _, l := range stats.Layers {
		cur, prev := snap.Layers[l], h.base.Layers[l]
		s.Layers[l] = LayerDelta{Hits: delta(cur.Hits, prev.Hits), Misses: delta(cur.Misses, prev.Misses)}
	}
	h.ring[h.next] = s
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
	h.base = snap
	return s, true
}

// points returns the bucket's Points of the busiest maxSeries rows.
func (h *history) points(cur, prev map[string]stats.Counts) map[string]Point {
	type named struct {
		name string
		p    Point
	}
	var all []named
	for name, c := range cur {
		p := prev[name]
		pt := Point{
			Requests: delta(c.Requests, p.Requests),
			Origin:   delta(c.Layers[stats.Origin].Hits, p.Layers[stats.Origin].Hits),
		}
		if pt.Requests > 0 {
			all = append(all, named{name, pt})
		}
	}
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b named) int {
		return cmp.Or(cmp.Compare(b.p.Requests, a.p.Requests), cmp.Compare(a.name, b.name))
	})
	if len(all) > h.maxSeries {
		all = all[:h.maxSeries]
	}
	out := make(map[string]Point, len(all))
	for _, n := range all {
		out[n.name] = n.p
	}
	return out
}

// samples returns the buckets, oldest first.
func (h *history) samples() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sample
	if h.full {
		out = append(out, h.ring[h.next:]...)
	}
	return append(out, h.ring[:h.next]...)
}

// live renders snap as the dashboard's live figures.
func (h *history) live(snap stats.Snapshot) Live {
	h.mu.Lock()
	rate := h.rate
	h.mu.Unlock()
	l := Live{
		Time:          snap.Time,
		UptimeSeconds: snap.UptimeSeconds,
		Counts:        snap.Counts,
		RPS:           rate,
		Saved:         delta(snap.Requests, snap.Layers[stats.Origin].Hits),
		Tenants:       topRows(snap.Tenants, LiveRows),
		Routes:        topRows(snap.Routes, LiveRows),
		TenantCount:   len(snap.Tenants),
		RouteCount:    len(snap.Routes),
	}
	return l
}

func topRows(m map[string]stats.Counts, n int) []Row {
	rows := make([]Row, 0, len(m))
	for name, c := range m {
		rows = append(rows, Row{Name: name, Counts: c})
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Name, b.Name))
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

// liveFeed hands the newest live figures and history bucket to streams.
type liveFeed struct {
	mu        sync.Mutex
	live      *Live
	sample    *Sample
	sampleSeq uint64
	changed   chan struct{}
	// stopped is closed when the sampler stops, so that open streams end
	// and a graceful shutdown of the listener does not wait on them.
	stopped  chan struct{}
	stopOnce sync.Once
}

func newLiveFeed() *liveFeed {
	return &liveFeed{changed: make(chan struct{}), stopped: make(chan struct{})}
}

func (f *liveFeed) stop() { f.stopOnce.Do(func() { close(f.stopped) }) }

func (f *liveFeed) publish(l Live, s Sample, newSample bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = &l
	if newSample {
		f.sample = &s
		f.sampleSeq++
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// current returns the newest figures (nil before the first tick), the
// newest bucket and its sequence number, and a channel closed on the next
// publish.
func (f *liveFeed) current() (*Live, *Sample, uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live, f.sample, f.sampleSeq, f.changed
}
