package stats

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Layer names, in the order a request meets them.
const (
	Browser = "browser" // conditional requests answered 304
	L1      = "l1"
	L2      = "l2"
	CDN     = "cdn"
	Origin  = "origin" // requests forwarded to the origin
)

// Layers lists the layer names in display order.
var Layers = []string{Browser, L1, L2, CDN, Origin}

// Other is the row that collects tenants or routes past the table bounds.
const Other = "_other"

// Default bounds of the per-tenant and per-route tables.
const (
	DefaultMaxTenants = 1000
	DefaultMaxRoutes  = 200
)

// LayerCounts is one layer's lookups.
type LayerCounts struct {
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
}

// Counts is the figures of one row (all traffic, a tenant, a route).
type Counts struct {
	Requests uint64 `json:"requests"`
	// HitRatio is the share of requests answered without the origin.
	HitRatio float64                `json:"hit_ratio"`
	Layers   map[string]LayerCounts `json:"layers"`
}

// Snapshot is the state of all counters at one time.
type Snapshot struct {
	Time          time.Time         `json:"time"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Counts                          // all traffic
	Tenants       map[string]Counts `json:"tenants"`
	Routes        map[string]Counts `json:"routes"`
}

type layerCounter struct{ hits, misses atomic.Uint64 }

type row struct {
	requests atomic.Uint64
	origin   atomic.Uint64 // requests that reached the origin
	layers   [5]layerCounter
}

func layerIndex(layer string) int {
	for i, l := range Layers {
		if l == layer {
			return i
		}
	}
	return -1
}

func (r *row) counts() Counts {
	c := Counts{Requests: r.requests.Load(), Layers: make(map[string]LayerCounts, len(Layers))}
	if c.Requests > 0 {
		c.HitRatio = 1 - float64(r.origin.Load())/float64(c.Requests)
	}
	for i, name := range Layers {
		lc := LayerCounts{Hits: r.layers[i].hits.Load(), Misses: r.layers[i].misses.Load()}
		if total := lc.Hits + lc.Misses; total > 0 {
			lc.HitRatio = float64(lc.Hits) / float64(total)
		}
		c.Layers[name] = lc
	}
	return c
}

// Recorder collects counts. Its zero value is not usable; call New.
type Recorder struct {
	start      time.Time
	all        row
	maxTenants int
	maxRoutes  int
	tenants    table
	routes     table
}

// table is the rows of one breakdown (tenants or routes). Reads take no
// lock: every request looks up two rows, and a read-write mutex would make
// all of them write one shared word. Inserts, rare and bounded, are
// serialized by mu.
type table struct {
	mu   sync.Mutex
	rows sync.Map     // string -> *row
	n    atomic.Int64 // entries in rows
}

func (t *table) get(key string, limit int) *row {
	if r, ok := t.rows.Load(key); ok {
		return r.(*row)
	}
	if t.n.Load() >= int64(limit) {
		// Full: an unknown key is counted as Other, without the lock.
		if r, ok := t.rows.Load(Other); ok {
			return r.(*row)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.rows.Load(key); ok {
		return r.(*row)
	}
	if t.n.Load() >= int64(limit) {
		key = Other
		if r, ok := t.rows.Load(key); ok {
			return r.(*row)
		}
	}
	r := &row{}
	t.rows.Store(key, r)
	t.n.Add(1)
	return r
}

func (t *table) counts() map[string]Counts {
	out := make(map[string]Counts, t.n.Load())
	t.rows.Range(func(k, r any) bool {
		out[k.(string)] = r.(*row).counts()
		return true
	})
	return out
}

// New returns a Recorder with the default table bounds.
func New() *Recorder {
	return &Recorder{
		start:      time.Now(),
		maxTenants: DefaultMaxTenants,
		maxRoutes:  DefaultMaxRoutes,
	}
}

// Route returns the route prefix a path is counted under: its first segment.
func Route(path string) string {
	if len(path) <= 1 {
		return "/"
	}
	if i := strings.IndexByte(path[1:], '/'); i >= 0 {
		return path[:i+1]
	}
	return path
}

// Request is one client request being counted.
type Request struct {
	rows [3]*row
}

// Begin counts a request of tenant to path and returns the handle its layer
// outcomes are recorded on.
func (r *Recorder) Begin(tenant, path string) Request {
	req := Request{rows: [3]*row{&r.all, r.tenants.get(tenant, r.maxTenants), r.routes.get(Route(path), r.maxRoutes)}}
	for _, row := range req.rows {
		row.requests.Add(1)
	}
	return req
}

// Hit records that layer answered the request.
func (q Request) Hit(layer string) {
	i := layerIndex(layer)
	if i < 0 || q.rows[0] == nil {
		return
	}
	for _, row := range q.rows {
		row.layers[i].hits.Add(1)
	}
}

// Miss records that layer was asked and did not have the response.
func (q Request) Miss(layer string) {
	i := layerIndex(layer)
	if i < 0 || q.rows[0] == nil {
		return
	}
	for _, row := range q.rows {
		row.layers[i].misses.Add(1)
	}
}

// Forwarded records that the request went to the origin.
func (q Request) Forwarded() {
	if q.rows[0] == nil {
		return
	}
	i := layerIndex(Origin)
	for _, row := range q.rows {
		row.origin.Add(1)
		row.layers[i].hits.Add(1)
	}
}

// Snapshot returns the current counts.
func (r *Recorder) Snapshot() Snapshot {
	now := time.Now()
	return Snapshot{
		Time:          now,
		UptimeSeconds: now.Sub(r.start).Seconds(),
		Counts:        r.all.counts(),
		Tenants:       r.tenants.counts(),
		Routes:        r.routes.counts(),
	}
}
