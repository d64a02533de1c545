package memstore

import (
	"hash/maphash"
	"maps"
	"strings"
	"sync"
)

// recordShards spreads the tag records over this many maps, so that
// readers on many cores rarely share a lock's cache line and a prune holds
// one shard at a time.
const recordShards = 64

// tagRecords holds every tenant's invalidation records, (tenant, tag) ->
// record, in shards of plain maps behind read-write locks: one structure
// for the Store, so that 10,000 tenants with a few records each cost no
// more than one tenant with all of them.
//
// Why not a sync.Map per tenant (what it was): at 10,000 new tags a second,
// the sync.Map's per-record node and boxed value made each Load of a large
// map cost about 1.6 µs and gave the collector a pointer-rich structure to
// scan; invalidations took a fifth of a gateway's CPU away from its hits
// (bench/invalidation.sh, BENCHMARKS.md). A map of values allocates
// nothing per record, and a read is a read lock and a lookup.
type tagRecords struct {
	seed   maphash.Seed
	shards [recordShards]recordShard
}

type recordKey struct {
	t   *tenant
	tag string
}

type recordShard struct {
	mu sync.RWMutex
	m  map[recordKey]record
	// peak is the most records m held since it was made: a Go map keeps
	// the memory of its peak, so prune makes a smaller one once most are
	// gone.
	peak int
	// Pads the shard to a cache line of its own.
	_ [64 - 40]byte
}

func newTagRecords() *tagRecords {
	r := &tagRecords{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[recordKey]record)
	}
	return r
}

func (r *tagRecords) shard(tag string) *recordShard {
	return &r.shards[maphash.String(r.seed, tag)%recordShards]
}

// load returns the record of t's tag, if any.
func (r *tagRecords) load(t *tenant, tag string) (record, bool) {
	s := r.shard(tag)
	s.mu.RLock()
	rec, ok := s.m[recordKey{t, tag}]
	s.mu.RUnlock()
	return rec, ok
}

// update replaces the record of t's tag (the zero record if none) by next
// of it.
func (r *tagRecords) update(t *tenant, tag string, next func(record) record) {
	s := r.shard(tag)
	s.mu.Lock()
	s.put(t, tag, next(s.m[recordKey{t, tag}]))
	s.mu.Unlock()
}

// set makes rec the record of t's tag, whatever it held: a hard
// invalidation's record does not depend on the old one, so one map
// assignment does (a lookup first, as update does, costs a second probe of
// a map that outgrows the CPU caches at a steady stream of new tags).
func (r *tagRecords) set(t *tenant, tag string, rec record) {
	s := r.shard(tag)
	s.mu.Lock()
	s.put(t, tag, rec)
	s.mu.Unlock()
}

// put assigns rec to t's tag; s.mu is held.
func (s *recordShard) put(t *tenant, tag string, rec record) {
	// The tag may be a slice of a whole decoded event: keep only its
	// bytes. (A map assignment to a present key replaces the stored key
	// too, so the copy is made whether or not the tag is new.)
	s.m[recordKey{t, strings.Clone(tag)}] = rec
	s.peak = max(s.peak, len(s.m))
}

// prune deletes the records last written before cutoff (unix
// nanoseconds).
func (r *tagRecords) prune(cutoff int64) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for k, rec := range s.m {
			if rec.at < cutoff {
				delete(s.m, k)
			}
		}
		if len(s.m) < s.peak/4 {
			// Not maps.Clone: it copies the table at its size.
			small := make(map[recordKey]record, len(s.m))
			maps.Copy(small, s.m)
			s.m = small
			s.peak = len(s.m)
		}
		s.mu.Unlock()
	}
}

// len is the number of records held.
func (r *tagRecords) len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
