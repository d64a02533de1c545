package gateway

import (
	"context"
	"errors"
	"time"
)

// Entry is one stored response (or, with Vary set and no Status, the record
// of which request headers select among a URL's variants).
type Entry struct {
	Status int
	// header holds the end-to-end headers as the origin sent them, minus
	// tag headers, in compact form (header.go): read it with Header,
	// HeaderValue or HeaderFields, set it with SetHeader.
	header header
	Body   []byte

	// Tags are the tenant-local tags of the response: the origin's
	// Surrogate-Key / Cache-Tag names plus invalidation.ImplicitTags.
	Tags []string

	// RequestTime and ResponseTime bracket the origin fetch (RFC 9111 4.2.3).
	RequestTime  time.Time
	ResponseTime time.Time

	// FetchGen is the layer's invalidation generation read before the origin
	// fetch began (Store.Get returns it). A store treats the entry as gone
	// once any of its tags, or its whole tenant, was invalidated at a later
	// generation: so a fill that raced an invalidation cannot resurrect
	// stale content.
	FetchGen uint64

	// Vary lists the request header names that select a variant, for the
	// variant record stored under a URL's primary key.
	Vary []string

	// SoftSince is set by Store.Get, never stored: the time of a soft
	// invalidation (SoftInvalidator) of one of the entry's tags, or of its
	// tenant, that landed after its fetch began; zero when none did. The
	// gateway then treats the entry as stale since that time: served only
	// within its stale-while-revalidate window while one refill runs.
	SoftSince time.Time

	// derived caches what the hit path computes from Header and the times;
	// set by the gateway's fills, nil elsewhere (then computed per use).
	derived *derived
}

// Size is the entry's footprint in bytes, for byte-bounded layers: what
// the process really holds for it (measured in memstore's tests), not only
// its payload, so that a byte budget bounds memory. It counts the body's
// capacity, the Entry and its derived values, the header's pairs and
// strings (header.size) and the tag and Vary slices.
func (e *Entry) Size() int {
	const (
		entryBytes  = 192 + 64 // Entry, derived
		perString   = 16       // a string header in a slice
		stringRound = 8        // allocation rounding of a string's bytes
	)
	n := cap(e.Body) + entryBytes + e.header.size()
	for _, t := range e.Tags {
		n += len(t) + perString + stringRound
	}
	for _, v := range e.Vary {
		n += len(v) + perString + stringRound
	}
	if e.derived != nil && e.derived.fields != nil {
		n += e.derived.fields.size()
	}
	return n
}

// ErrUnavailable is wrapped by a Store whose backend cannot be reached; the
// gateway then carries on without that layer.
var ErrUnavailable = errors.New("cache layer unavailable")

// Store is one cache layer. Keys are opaque and already tenant-namespaced by
// the gateway; tenant is passed so a store can keep a tenant's keys and
// invalidation state together (one Redis Cluster hash slot per tenant).
type Store interface {
	// Get returns the live entry under key, or nil, and the layer's current
	// invalidation generation for tenant, to be set as FetchGen of an entry
	// filled by a fetch that starts now.
	Get(ctx context.Context, tenant, key string) (e *Entry, gen uint64, err error)
	// Set stores e under key for ttl.
	Set(ctx context.Context, tenant, key string, e *Entry, ttl time.Duration) error
	// Delete removes key.
	Delete(ctx context.Context, tenant, key string) error
	// InvalidateTags makes every entry of tenant carrying one of tags, and
	// filled by a fetch that began before this call, gone: in O(1) per tag,
	// whatever the number of entries that carry it.
	InvalidateTags(ctx context.Context, tenant string, tags []string) error
	// InvalidateTenant makes every entry of tenant gone.
	InvalidateTenant(ctx context.Context, tenant string) error
}

// SoftInvalidator is a Store that can invalidate softly: what a soft
// invalidation covers stays readable, with Entry.SoftSince set to at, until
// a hard invalidation covers it too. A second soft invalidation of a tag (or
// tenant) makes what the first one left stale gone, so no entry is served
// stale for longer than its window after the first soft invalidation that
// covered it. The gateway falls back to a hard invalidation for a Store
// that does not implement it.
type SoftInvalidator interface {
	// SoftInvalidateTags marks every entry of tenant carrying one of tags,
	// and filled by a fetch that began before this call, stale since at.
	SoftInvalidateTags(ctx context.Context, tenant string, tags []string, at time.Time) error
	// SoftInvalidateTenant marks every entry of tenant stale since at.
	SoftInvalidateTenant(ctx context.Context, tenant string, at time.Time) error
}

// softInvalidator is s's SoftInvalidator, looking through the gateway's own
// wrappers (the L1 switch, the L2 guard), or nil: s is then invalidated
// hard.
func softInvalidator(s Store) SoftInvalidator {
	for {
		if si, ok := s.(SoftInvalidator); ok {
			return si
		}
		w, ok := s.(interface{ unwrap() Store })
		if !ok {
			return nil
		}
		s = w.unwrap()
	}
}

// FillLock lets one instance among many fetch a key from the origin while
// the others wait for the stored entry (cross-instance request coalescing).
type FillLock interface {
	// Acquire tries to take the fill lock of key for ttl.
	Acquire(ctx context.Context, tenant, key string, ttl time.Duration) (Fill, error)
}

// Fill is a fill lock as Acquire found it.
type Fill struct {
	// Acquired says the caller holds the lock; it must call Release.
	Acquired bool
	// Release frees a held lock. With failed (the HTTP status the fetch
	// failed with) non-zero, the lock is kept instead, marked failed, for
	// hold (at most the lock's ttl): the waiters of other instances then
	// answer with that outcome at once rather than each asking an origin
	// that just failed. A release by a holder whose lock expired and was
	// taken by another does nothing.
	Release func(failed int, hold time.Duration)
	// Refresh re-arms a held lock's ttl, for a fetch that outlasts it; it
	// fails once the lock was lost (expired and taken by another).
	Refresh func(ctx context.Context) error
	// Failed is, when the lock was not acquired, the status its last
	// holder's fetch failed with; 0 while that holder is still fetching.
	Failed int
}

// Clearer is a layer that can drop all of its entries at once (L1, after its
// instance may have missed invalidations).
type Clearer interface {
	Clear(ctx context.Context) error
}
