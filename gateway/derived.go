package gateway

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/headers"
)

// derived is what the hit path needs from a stored response that depends
// only on the response itself: its parsed Cache-Control, freshness
// lifetime and initial age (RFC 9111 4.2.3's corrected_initial_age). An
// entry's header and times never change once it is stored, so the gateway
// computes these once, when it fills a layer, instead of parsing
// Cache-Control and Date/Expires on every hit.
type derived struct {
	cc         headers.CacheControl
	lifetime   time.Duration // headers.FreshnessLifetime; 0 when none is stated
	initialAge time.Duration // the age at ResponseTime
	// plain: the header holds none of headers.InternalHeaders, so a client
	// copy of it needs no deletions when there is no CDN.
	plain bool

	// hit caches the Age and Cache-Status values of the latest hit on the
	// entry: they change once a second, and between changes every hit
	// shares the same two strings instead of building them.
	hit atomic.Pointer[hitValues]
}

// hitValues are the Age and Cache-Status field values of a hit on one
// layer at one age, in one backing array whose two elements are handed
// out as separate full slices (len 1, cap 1): an append to either cannot
// reach the other.
type hitValues struct {
	age, ttl int64
	layer    string
	vals     [2]string
}

// deriveEntry computes e's derived values. e must be complete (finishEntry
// done): its Date in particular is part of the age. internal are
// headers.InternalHeaders, canonical.
func deriveEntry(e *Entry, internal []string) *derived {
	m := &derived{}
	m.cc, _ = headers.ParseCacheControl(e.Header["Cache-Control"])
	m.lifetime, _ = headers.FreshnessLifetime(m.cc, e.Header, e.ResponseTime)
	// CurrentAge at the response time is the initial age: the resident
	// time it adds on top is zero then.
	m.initialAge = headers.CurrentAge(e.Header, e.RequestTime, e.ResponseTime, e.ResponseTime)
	m.plain = len(internal) > 0 // unknown without the list: not plain
	for _, k := range internal {
		if _, ok := e.Header[k]; ok {
			m.plain = false
		}
	}
	return m
}

// derive returns e's derived values: the ones computed at fill time, or,
// for an entry that did not come from a fill of this gateway (an L2 hit, a
// stale entry being refreshed), freshly computed ones.
func (e *Entry) derive() *derived {
	if e.derived != nil {
		return e.derived
	}
	return deriveEntry(e, nil)
}

// currentAge is headers.CurrentAge of e at now, from the derived initial age.
func (m *derived) currentAge(e *Entry, now time.Time) time.Duration {
	resident := now.Sub(e.ResponseTime)
	if resident < 0 {
		resident = 0
	}
	return m.initialAge + resident
}

// hitValues returns the Age and Cache-Status values of a hit on layer with
// freshness f: the cached ones when the last hit on the entry rendered the
// same, else new ones, cached for the next hits.
func (m *derived) hitValues(name, layer string, f freshness) *hitValues {
	age, ttl := ageSeconds(f.age), seconds(f.lifetime-f.age)
	if v := m.hit.Load(); v != nil && v.age == age && v.ttl == ttl && v.layer == layer {
		return v
	}
	v := renderHit(name, layer, age, ttl)
	m.hit.Store(v)
	return v
}

func renderHit(name, layer string, age, ttl int64) *hitValues {
	v := &hitValues{age: age, ttl: ttl, layer: layer}
	v.vals[0] = headers.FormatAge(time.Duration(age) * time.Second)
	s := newStatus(name)
	s.flag("hit")
	s.token("detail", layer)
	s.int("ttl", ttl)
	v.vals[1] = s.String()
	return v
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
