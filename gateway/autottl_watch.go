package gateway

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// What a "ttl: auto" route watches besides its revalidations: how often
// its URLs are read (readWindow), and which of its entries an invalidation
// event reaches (trackedKeys). Both are bounded per route whatever the
// traffic.

// autoReadPeriod is a read window's bucket: reads are counted over the
// current and the previous period, and a rate is trusted once a route was
// watched for one whole period.
const autoReadPeriod = time.Hour

// autoURLBits sizes the bitmap that counts a period's distinct URLs
// (linear counting): accurate to a few thousand URLs, beyond which it
// saturates and overstates the read rate, which errs to the shorter TTL.
const autoURLBits = 4096

// readWindow counts a route's reads and the distinct URLs they asked for,
// lock-free on the read path; a bucket is reset under mu once a period.
type readWindow struct {
	mu      sync.Mutex
	buckets [2]readBucket
	since   atomic.Int64 // UnixNano of the first read counted, 0 before
}

type readBucket struct {
	period atomic.Int64 // the period it counts (UnixNano / autoReadPeriod)
	reads  atomic.Uint64
	urls   [autoURLBits / 64]atomic.Uint64
}

// add counts a read of the URL hashed to h at now; it reports whether it
// opened a new period (the route's TTL is then worth deciding again).
func (w *readWindow) add(h uint64, now time.Time) bool {
	n := now.UnixNano()
	w.since.CompareAndSwap(0, n)
	p := n / int64(autoReadPeriod)
	b := &w.buckets[p&1]
	opened := false
	if b.period.Load() != p {
		w.mu.Lock()
		if b.period.Load() != p {
			// Cleared before it is relabelled: a read that sees the new
			// period counts into an empty bucket.
			b.reads.Store(0)
			for i := range b.urls {
				b.urls[i].Store(0)
			}
			b.period.Store(p)
			opened = true
		}
		w.mu.Unlock()
	}
	b.reads.Add(1)
	bit := h % autoURLBits
	b.urls[bit/64].Or(1 << (bit % 64))
	return opened
}

// every estimates the mean time between two reads of one URL at now: 0
// until the route was watched for a period. With each URL read at rate r,
// a window of W holds reads/URLs = x / (1 − e^(−x)) reads per URL read,
// x = rW; solving that for x undoes the URLs read once that a plain
// reads/URLs would count as read at 1/W. Fewer than one read per window is
// not told apart: the estimate is at most W.
func (w *readWindow) every(now time.Time) time.Duration {
	since := w.since.Load()
	n := now.UnixNano()
	if since == 0 || n-since < int64(autoReadPeriod) {
		return 0
	}
	p := n / int64(autoReadPeriod)
	span := min(time.Duration(n-since), autoReadPeriod+time.Duration(n-p*int64(autoReadPeriod)))
	var reads uint64
	var urls [autoURLBits / 64]uint64
	for i := range w.buckets {
		b := &w.buckets[i]
		if bp := b.period.Load(); bp != p && bp != p-1 {
			continue
		}
		reads += b.reads.Load()
		for j := range urls {
			urls[j] |= b.urls[j].Load()
		}
	}
	set := 0
	for _, u := range urls {
		set += bits.OnesCount64(u)
	}
	if reads == 0 || set == 0 {
		return span
	}
	zeros := float64(max(autoURLBits-set, 1))
	distinct := autoURLBits * math.Log(autoURLBits/zeros)
	x := readsPerURL(max(float64(reads)/distinct, 1))
	return time.Duration(float64(span) / max(x, 1))
}

// readsPerURL solves x / (1 − e^(−x)) = k for x ≥ 0 (k ≥ 1).
func readsPerURL(k float64) float64 {
	lo, hi := 0.0, k+1 // the left side exceeds x, so x < k
	for range 64 {
		mid := (lo + hi) / 2
		if mid/-math.Expm1(-mid) < k {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// autoTrackedMax bounds the entries of one route watched for invalidation;
// past it, a random one is forgotten (its change then goes unobserved).
// Each is indexed under its tags (at most tagging's cap plus the implicit
// ones), which bounds a route's index to a few MiB at worst; a sample of
// this many URLs is plenty to estimate a change interval.
const autoTrackedMax = 512

// trackedKeys are a route's entries as last stored, indexed by tenant and
// tag so that an invalidation finds those it reaches without scanning.
// Guarded by autoTTLs.mu.
type trackedKeys struct {
	byKey map[string]*trackedEntry
	byTag map[tenantTag]map[*trackedEntry]struct{}
}

type tenantTag struct{ tenant, tag string }

type trackedEntry struct {
	key, tenant string
	tags        []string
	since       time.Time // when its content was last known current
}

// store records that key of tenant, carrying tags, holds content current
// at since.
func (k *trackedKeys) store(tenant, key string, tags []string, since time.Time) {
	if k.byKey == nil {
		k.byKey = map[string]*trackedEntry{}
		k.byTag = map[tenantTag]map[*trackedEntry]struct{}{}
	}
	if old := k.byKey[key]; old != nil {
		k.forget(old)
	} else if len(k.byKey) >= autoTrackedMax {
		for _, e := range k.byKey { // map order: a random victim
			k.forget(e)
			break
		}
	}
	e := &trackedEntry{key: key, tenant: tenant, tags: tags, since: since}
	k.byKey[key] = e
	for _, t := range tags {
		tt := tenantTag{tenant, t}
		set := k.byTag[tt]
		if set == nil {
			set = map[*trackedEntry]struct{}{}
			k.byTag[tt] = set
		}
		set[e] = struct{}{}
	}
}

func (k *trackedKeys) forget(e *trackedEntry) {
	delete(k.byKey, e.key)
	for _, t := range e.tags {
		tt := tenantTag{e.tenant, t}
		delete(k.byTag[tt], e)
		if len(k.byTag[tt]) == 0 {
			delete(k.byTag, tt)
		}
	}
}

// invalidated forgets the entries of tenant carrying one of tags and
// returns how many there were and their summed lives up to at.
func (k *trackedKeys) invalidated(tenant string, tags []string, at time.Time) (n int, life time.Duration) {
	for _, t := range tags {
		for e := range k.byTag[tenantTag{tenant, t}] {
			n++
			life += max(at.Sub(e.since), 0)
			k.forget(e)
		}
	}
	return n, life
}
