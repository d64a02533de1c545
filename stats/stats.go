package stats

import (
	"maps"
	"slices"
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

// Default bounds of the per-tenant, per-route, per-path-prefix and
// per-tag-prefix tables.
const (
	DefaultMaxTenants     = 1000
	DefaultMaxRoutes      = 200
	DefaultMaxPrefixes    = 200
	DefaultMaxTagPrefixes = 200
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
	// Routes are keyed by the policy rule's name ("default" when none
	// matched).
	Routes map[string]Counts `json:"routes"`
	// Prefixes are keyed by the path's first segment ("/products").
	Prefixes map[string]Counts `json:"prefixes"`
	// TagPrefixes are keyed by the part of a tag before its first ':'
	// ("company:*"; a tag without one is its own row): requests answered
	// by a response carrying such a tag, from the cache or the origin.
	TagPrefixes map[string]TagCounts `json:"tag_prefixes"`
}

// TagCounts is one tag prefix's figures: responses with a tag of the
// prefix, and how many of them came from a cache layer.
type TagCounts struct {
	Requests uint64  `json:"requests"`
	Hits     uint64  `json:"hits"`
	HitRatio float64 `json:"hit_ratio"`
}

type layerCounter struct{ hits, misses atomic.Uint64 }

type tagRow struct{ requests, hits atomic.Uint64 }

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
	start       time.Time
	all         row
	maxTenants  int
	maxRoutes   int
	maxPrefixes int
	maxTags     int
	tenants     table[row]
	routes      table[row]
	prefixes    table[row]
	tags        table[tagRow]
	// tagSets are the shared TagSets, by their rows
	// ([maxTagsPerRequest]*tagRow).
	tagSets  sync.Map
	nTagSets atomic.Int64
}

// table is the rows of one breakdown (tenants or routes). Reads take no
// lock: every request looks up several rows, and a read-write mutex would
// make all of them write one shared word. The rows are an immutable map,
// replaced whole by each insert: inserts are rare and bounded (the table's
// limit), and a plain map is read faster than a sync.Map. Inserts are
// serialized by mu.
type table[R any] struct {
	mu   sync.Mutex
	rows atomic.Pointer[map[string]*R] // nil: no rows yet
}

// load is the current rows (nil, which reads as empty, before the first).
func (t *table[R]) load() map[string]*R {
	if m := t.rows.Load(); m != nil {
		return *m
	}
	return nil
}

func (t *table[R]) get(key string, limit int) *R {
	m := t.load()
	if r, ok := m[key]; ok {
		return r
	}
	if len(m) >= limit {
		// Full: an unknown key is counted as Other, without the lock.
		if r, ok := m[Other]; ok {
			return r
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m = t.load()
	if r, ok := m[key]; ok {
		return r
	}
	if len(m) >= limit {
		key = Other
		if r, ok := m[key]; ok {
			return r
		}
	}
	r := new(R)
	next := make(map[string]*R, len(m)+1)
	maps.Copy(next, m)
	// A clone: key may be a slice of a larger string (a tag) that the
	// table would otherwise keep alive.
	next[strings.Clone(key)] = r
	t.rows.Store(&next)
	return r
}

func tableCounts[R, C any](t *table[R], count func(*R) C) map[string]C {
	m := t.load()
	out := make(map[string]C, len(m))
	for k, r := range m {
		out[k] = count(r)
	}
	return out
}

func (r *tagRow) counts() TagCounts {
	c := TagCounts{Requests: r.requests.Load(), Hits: r.hits.Load()}
	if c.Requests > 0 {
		c.HitRatio = float64(c.Hits) / float64(c.Requests)
	}
	return c
}

// New returns a Recorder with the default table bounds.
func New() *Recorder {
	return &Recorder{
		start:       time.Now(),
		maxTenants:  DefaultMaxTenants,
		maxRoutes:   DefaultMaxRoutes,
		maxPrefixes: DefaultMaxPrefixes,
		maxTags:     DefaultMaxTagPrefixes,
	}
}

// Prefix returns the path prefix a path is counted under: its first
// segment.
func Prefix(path string) string {
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
	rows [4]*row
	rec  *Recorder
}

// Begin counts a request of tenant, matched by the policy rule named
// route, to path, and returns the handle its layer outcomes are recorded
// on.
func (r *Recorder) Begin(tenant, route, path string) Request {
	req := Request{rec: r, rows: [4]*row{&r.all, r.tenants.get(tenant, r.maxTenants),
		r.routes.get(route, r.maxRoutes), r.prefixes.get(Prefix(path), r.maxPrefixes)}}
	for _, row := range req.rows {
		row.requests.Add(1)
	}
	return req
}

// RepeatHits counts n more requests on q's rows (the same tenant, route
// and path prefix), each answered by layer: a caller that serves the same
// requests again skips Begin's lookups. Rows are never removed, so a kept
// handle stays valid.
func (q Request) RepeatHits(n uint64, layer string) {
	i := layerIndex(layer)
	if q.rows[0] == nil || n == 0 {
		return
	}
	for _, row := range q.rows {
		row.requests.Add(n)
		if i >= 0 {
			row.layers[i].hits.Add(n)
		}
	}
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

// maxTagsPerRequest bounds the distinct tag prefixes one response is
// counted under, so a response with many tags costs no allocation.
const maxTagsPerRequest = 8

func tagPrefixes(rows map[string]TagCounts) map[string]TagCounts {
	out := make(map[string]TagCounts, len(rows))
	for k, c := range rows {
		if strings.HasSuffix(k, ":") {
			k += "*"
		}
		out[k] = c
	}
	return out
}

// Tagged records that the request was answered by a response carrying
// tags, from a cache layer (hit) or the origin, once per distinct prefix.
func (q Request) Tagged(tags []string, hit bool) {
	if q.rec == nil {
		return
	}
	var buf [maxTagsPerRequest]*tagRow
	tagRows(q.rec, buf[:0], tags).count(hit)
}

// TaggedCached is Tagged for a response whose tags never change (a stored
// entry's): set caches, for the response, the rows its tags are counted
// under, so that its next requests neither read the tags nor look their
// prefixes up. set must only ever be passed with the same tags. The rows
// are those Tagged would count now and later alike: rows are never
// removed, and a full table stays full.
func (q Request) TaggedCached(set *atomic.Pointer[TagSet], tags []string, hit bool) {
	if q.rec == nil {
		return
	}
	s := set.Load()
	if s == nil || s.rec != q.rec {
		s = q.rec.tagSet(tags)
		set.Store(s)
	}
	s.rows.count(hit)
}

// TagSet is the rows a set of tags is counted under by one Recorder
// (Request.TaggedCached).
type TagSet struct {
	rec  *Recorder
	rows rowSet
}

// maxTagSets bounds the tag sets a Recorder shares among the responses
// with the same tag prefixes; past it, each response gets its own.
const maxTagSets = 4096

// tagSet is tags' TagSet, shared with every earlier response whose tags
// have the same prefixes.
func (r *Recorder) tagSet(tags []string) *TagSet {
	// The rows, in order, are the key: the same prefixes in the same order
	// give the same rows.
	var key [maxTagsPerRequest]*tagRow
	rows := tagRows(r, key[:0], tags)
	if v, ok := r.tagSets.Load(key); ok {
		return v.(*TagSet)
	}
	s := &TagSet{rec: r, rows: slices.Clone(rows)}
	if r.nTagSets.Load() >= maxTagSets {
		return s
	}
	if v, loaded := r.tagSets.LoadOrStore(key, s); loaded {
		return v.(*TagSet)
	}
	r.nTagSets.Add(1)
	return s
}

// rowSet is the rows of one response's tag prefixes, each once.
type rowSet []*tagRow

func (rs rowSet) count(hit bool) {
	for _, row := range rs {
		row.requests.Add(1)
		if hit {
			row.hits.Add(1)
		}
	}
}

// tagRows appends to dst the row of each distinct prefix of tags, up to
// maxTagsPerRequest prefixes, each row once: prefixes past the table's
// bound share its Other row.
func tagRows(r *Recorder, dst rowSet, tags []string) rowSet {
	var seen [maxTagsPerRequest]string
	n, start := 0, len(dst)
next:
	for _, t := range tags {
		p := t
		if i := strings.IndexByte(t, ':'); i >= 0 {
			p = t[:i+1]
		}
		for _, s := range seen[:n] {
			if s == p {
				continue next
			}
		}
		if n == len(seen) {
			break
		}
		seen[n] = p
		n++
		// Rows are keyed by "company:"; the snapshot shows "company:*".
		if row := r.tags.get(p, r.maxTags); !slices.Contains(dst[start:], row) {
			dst = append(dst, row)
		}
	}
	return dst
}

// Snapshot returns the current counts.
func (r *Recorder) Snapshot() Snapshot {
	now := time.Now()
	return Snapshot{
		Time:          now,
		UptimeSeconds: now.Sub(r.start).Seconds(),
		Counts:        r.all.counts(),
		Tenants:       tableCounts(&r.tenants, (*row).counts),
		Routes:        tableCounts(&r.routes, (*row).counts),
		Prefixes:      tableCounts(&r.prefixes, (*row).counts),
		TagPrefixes:   tagPrefixes(tableCounts(&r.tags, (*tagRow).counts)),
	}
}
