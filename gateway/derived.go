package gateway

import (
	"math"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/tagging"
)

// derived is what the hit path needs from a stored response that depends
// only on the response itself: the Cache-Control directives it uses, the
// freshness lifetime and the initial age (RFC 9111 4.2.3's
// corrected_initial_age). An entry's header and times never change once
// it is stored, so the gateway computes these once, when it fills a layer,
// instead of parsing Cache-Control and Date/Expires on every hit. It is
// kept small because every L1 entry holds one.
type derived struct {
	lifetime   time.Duration // explicit (or, when enabled, heuristic) freshness; 0 when none
	initialAge time.Duration // the age at ResponseTime
	// swr and sie are stale-while-revalidate and stale-if-error in
	// seconds: directives in whole seconds, at most 2^31-1 (headers
	// clamps them), kept in 4 bytes each so the tag set below fits.
	swr, sie int32
	share    headers.Share // what the entry may be shared as downstream
	// shareOverride is share under a rule that overrides the origin.
	shareOverride headers.Share
	noCache       bool
	// mustRevalidate is CacheControl.MustRevalidateShared.
	mustRevalidate bool
	// validator: the entry can be revalidated (headers.HasValidator).
	validator bool
	// plain: the header holds none of tagging.InternalHeaders, so a client
	// copy of it needs no deletions when there is no CDN.
	plain bool
	// fields, for an entry that is not plain, is what a client copy of
	// its header rewrites; nil when plain or derived without rules.
	fields *entryFields
	// tagSet is the stats rows a hit on the entry counts its tags under,
	// resolved at its first hit (stats.Request.TaggedCached): a hit then
	// reads neither the tags nor their strings, which among many entries
	// are cache misses of their own.
	tagSet atomic.Pointer[stats.TagSet]
}

// entryFields are the fields of an entry's header that a client copy
// rewrites, found once when derived: the hit path then neither parses
// Surrogate-Control nor deletes fields the header does not have.
type entryFields struct {
	// surrogate is the header's Surrogate-Control as markESI reads it;
	// nil when it has none.
	surrogate *surrogateField
	// internal and own are the header's fields among cacheRules.internal
	// and .own.
	internal, own []string
}

// size is what f holds beyond the entry: itself, its slices' arrays (the
// names are the gateway's) and the Surrogate-Control it rewrote.
func (f *entryFields) size() int {
	n := 64 + 16*(cap(f.internal)+cap(f.own))
	if s := f.surrogate; s != nil {
		n += 32
		for _, v := range s.rest {
			n += 16 + len(v) + 8
		}
	}
	return n
}

// cacheRules are the gateway settings that change how a stored response
// is read; the zero value reads it as RFC 9111 with no heuristic freshness.
type cacheRules struct {
	// internal are tagging.InternalHeaders, canonical; without them a
	// derived entry is never plain.
	internal  []string
	heuristic bool
	// targeted are Config.TargetedFields, canonical; own those of them
	// that are the gateway's alone, removed from every response.
	targeted, own []string
}

// newCacheRules canonicalizes cfg's header names once, so the hit path
// looks them up without allocating.
func newCacheRules(cfg Config) cacheRules {
	r := cacheRules{heuristic: cfg.Heuristic}
	for _, k := range tagging.InternalHeaders() {
		r.internal = append(r.internal, http.CanonicalHeaderKey(k))
	}
	cdn := tagging.CDNControlHeaders()
	for _, k := range cfg.TargetedFields {
		k = http.CanonicalHeaderKey(k)
		r.targeted = append(r.targeted, k)
		if !slices.ContainsFunc(cdn, func(c string) bool { return http.CanonicalHeaderKey(c) == k }) {
			r.own = append(r.own, k)
		}
	}
	return r
}

// deriveEntry computes e's derived values from its header h (e.Header(),
// or the map it was set from: package headers reads maps). e must be
// complete (finishEntry done): its Date in particular is part of the age.
func deriveEntry(e *Entry, h http.Header, r *cacheRules) *derived {
	if r == nil {
		r = &cacheRules{}
	}
	cc := headers.CacheDirectives(h, r.targeted)
	downstream := cc
	if cc.Targeted {
		downstream, _ = headers.ParseCacheControl(h["Cache-Control"])
	}
	m := &derived{
		swr:            deltaSeconds(cc.StaleWhileRevalidate),
		sie:            deltaSeconds(cc.StaleIfError),
		noCache:        cc.NoCache,
		mustRevalidate: cc.MustRevalidateShared(),
		validator:      headers.HasValidator(h),
		share:          headers.ShareAs(e.Status, h, downstream, false),
		shareOverride:  headers.ShareAs(e.Status, h, downstream, true),
	}
	var explicit bool
	m.lifetime, explicit = headers.FreshnessLifetime(cc, h, e.ResponseTime)
	if !explicit && r.heuristic {
		m.lifetime = headers.HeuristicLifetime(e.Status, h, e.ResponseTime)
	}
	// CurrentAge at the response time is the initial age: the resident
	// time it adds on top is zero then.
	m.initialAge = headers.CurrentAge(h, e.RequestTime, e.ResponseTime, e.ResponseTime)
	m.plain = len(r.internal) > 0
	f := new(entryFields)
	for i, names := range [2][]string{r.internal, r.own} {
		for _, k := range names {
			if _, ok := h[k]; ok {
				m.plain = false
				if i == 0 {
					f.internal = append(f.internal, k)
				} else {
					f.own = append(f.own, k)
				}
			}
		}
	}
	if len(r.internal) > 0 && !m.plain {
		if sc, ok := h["Surrogate-Control"]; ok {
			f.surrogate = newSurrogateField(sc)
		}
		m.fields = f
	}
	return m
}

// deltaSeconds is a directive's delta-seconds d in seconds.
func deltaSeconds(d time.Duration) int32 {
	return int32(min(d/time.Second, math.MaxInt32))
}

// staleWindows are the entry's stale-while-revalidate and stale-if-error.
func (m *derived) staleWindows() (swr, sie time.Duration) {
	return time.Duration(m.swr) * time.Second, time.Duration(m.sie) * time.Second
}

// derive returns e's derived values: the ones computed at fill time, or,
// for an entry that did not come from a fill of this gateway, freshly
// computed ones.
func (g *Gateway) derive(e *Entry) *derived {
	if e.derived != nil {
		return e.derived
	}
	return deriveEntry(e, e.Header(), &g.rules)
}

// currentAge is headers.CurrentAge of e at now, from the derived initial age.
func (m *derived) currentAge(e *Entry, now time.Time) time.Duration {
	resident := now.Sub(e.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return m.initialAge + resident
}

// hitCacheSlots is the size of the gateway's tables of Age and
// Cache-Status values: a hit looks its values up by age and ttl instead of
// formatting them, and hits with the same age or ttl (in one second, or on
// entries filled in the same second) share them.
const hitCacheSlots = 1024

// hitValue is one field value, handed out as a full slice (len 1, cap 1)
// of v: an append to it makes a copy.
type hitValue struct {
	n int64 // the age or ttl, in seconds
	v [1]string
}

// hitValues are the gateway's direct-mapped tables of hit field values:
// bounded memory whatever the number of entries, no lock.
type hitValues struct {
	age    [hitCacheSlots]atomic.Pointer[hitValue]
	status [2][hitCacheSlots]atomic.Pointer[hitValue] // by layer: l1, l2
}

// ageValue returns the Age field value of age seconds.
func (g *Gateway) ageValue(age int64) []string {
	slot := &g.hits.age[uint64(age)%hitCacheSlots]
	if v := slot.Load(); v != nil && v.n == age {
		return v.v[:]
	}
	v := &hitValue{n: age, v: [1]string{headers.FormatAge(time.Duration(age) * time.Second)}}
	slot.Store(v)
	return v.v[:]
}

// hitStatusValue returns the Cache-Status field value of a hit on layer
// with ttl seconds of freshness left.
func (g *Gateway) hitStatusValue(layer string, ttl int64) []string {
	var table *[hitCacheSlots]atomic.Pointer[hitValue]
	switch layer {
	case stats.L1:
		table = &g.hits.status[0]
	case stats.L2:
		table = &g.hits.status[1]
	default:
		return []string{g.hitStatus(layer, ttl)}
	}
	slot := &table[uint64(ttl)%hitCacheSlots]
	if v := slot.Load(); v != nil && v.n == ttl {
		return v.v[:]
	}
	v := &hitValue{n: ttl, v: [1]string{g.hitStatus(layer, ttl)}}
	slot.Store(v)
	return v.v[:]
}

func (g *Gateway) hitStatus(layer string, ttl int64) string {
	s := newStatus(g.cfg.CacheName)
	s.flag("hit")
	s.token("detail", layer)
	s.int("ttl", ttl)
	return s.String()
}

// ageSeconds is the Age field's value of age, as headers.FormatAge has it.
func ageSeconds(age time.Duration) int64 {
	if age < 0 {
		return 0
	}
	return int64(age / time.Second)
}

// seconds rounds up: a fresh entry's last fraction of a second still
// counts (ttl=1), and an entry 5.2 s past its lifetime shows ttl=-5.
func seconds(d time.Duration) int64 {
	return int64(math.Ceil(d.Seconds()))
}
