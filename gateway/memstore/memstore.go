package memstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/setting"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxBytes = 256 << 20
	DefaultMaxTTL   = 24 * time.Hour
)

// pruneMargin keeps invalidation records a little longer than MaxTTL, for a
// Set that checked liveness just before an invalidation and stored just after.
const pruneMargin = time.Minute

// itemOverhead is what one cached key costs beyond Entry.Size() and the
// key's bytes: the item, otter's node and its hash table slot (measured by
// TestAccountingMatchesMemory).
const itemOverhead = 176

// Config configures a Store.
type Config struct {
	// MaxBytes bounds the approximate memory of the entries (their
	// Entry.Size() plus key and bookkeeping). Zero means DefaultMaxBytes.
	MaxBytes int64
	// MaxTTL is the longest time an entry is kept; Set clamps its ttl to it.
	// Invalidation records are kept only that long. Zero means DefaultMaxTTL.
	MaxTTL time.Duration
}

// Validate reports a configuration that cannot work, each problem a
// *setting.Error named as the config file spells it (under l1).
func (c Config) Validate() error {
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, setting.Errorf("max_bytes", "memstore: %d is negative", c.MaxBytes))
	}
	if c.MaxTTL < 0 {
		errs = append(errs, fmt.Errorf("memstore: MaxTTL %v is negative", c.MaxTTL))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	return c
}

// Store is the in-process L1 layer. The zero value is not usable; call New.
type Store struct {
	cache  *otter.Cache[string, *item]
	maxTTL time.Duration
	now    func() time.Time

	// gen is one generation counter shared by all tenants: each tenant sees
	// a monotonic counter, which is all the generation model needs, and one
	// counter lets Clear kill every tenant's entries in O(1).
	gen        atomic.Uint64
	clearFloor atomic.Uint64

	// evictions counts entries dropped for room (not expiry nor
	// invalidation), for the metrics.
	evictions atomic.Uint64

	tenants   sync.Map // tenant name -> *tenant
	tagRecs   *tagRecords
	pruneMu   sync.Mutex
	lastPrune atomic.Int64 // unix nanoseconds of the last sweep of old records
}

// item is what the cache holds for a key.
type item struct {
	e   *gateway.Entry
	t   *tenant
	gen uint64 // e.FetchGen, clamped to the generation at Set
	ttl time.Duration
}

// tenant is the invalidation state of one tenant.
type tenant struct {
	// last is the generation of the tenant's latest invalidation: an entry
	// filled at or after it needs no per-tag check (the common case).
	last  atomic.Uint64
	floor atomic.Uint64
	// soft is the tenant's latest soft invalidation (gen and softAt only).
	soft atomic.Pointer[record]

	// mu serializes the writers of the tenant's tag records and soft: an
	// invalidation's records are written at one generation, in the
	// tenant's order.
	mu sync.Mutex
}

// record is a tag's invalidation state: the generation of its latest hard
// invalidation and of its latest soft one, replaced as a whole.
type record struct {
	gen    uint64
	at     int64  // unix nanoseconds of the latest invalidation, for pruning
	soft   uint64 // generation of the latest soft invalidation, 0 for none
	softAt int64  // unix nanoseconds the gateway gave for it
}

// softened is r after a soft invalidation at generation g: what the
// previous soft invalidation left stale becomes dead (the window of an
// entry starts from the first soft invalidation that covers it).
func (r record) softened(g uint64, now, at int64) record {
	return record{gen: max(r.gen, r.soft), at: now, soft: g, softAt: at}
}

var (
	_ gateway.Store   = (*Store)(nil)
	_ gateway.Clearer = (*Store)(nil)

	_ gateway.SoftInvalidator = (*Store)(nil)
)

// New returns an empty Store.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{maxTTL: cfg.MaxTTL, now: time.Now, tagRecs: newTagRecords()}
	c, err := otter.New(&otter.Options[string, *item]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher: func(key string, it *item) uint32 {
			n := int64(len(key)) + int64(it.e.Size()) + itemOverhead
			return uint32(min(n, math.MaxUint32))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *item]) time.Duration {
			return e.Value.ttl
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[string, *item]) {
			if e.Cause == otter.CauseOverflow {
				s.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.cache = c
	return s, nil
}

// Get returns the live entry under key, or nil, and the current generation.
// The returned Entry is the stored one, shared with every other reader: the
// caller must not modify it (nor anything it points to).
func (s *Store) Get(_ context.Context, _ string, key string) (*gateway.Entry, uint64, error) {
	// Read the generation first: a fill that starts from this Get must not
	// be credited with an invalidation that lands after the read.
	gen := s.gen.Load()
	it, ok := s.cache.GetIfPresent(key)
	if !ok {
		return nil, gen, nil
	}
	live, softAt := s.check(it)
	if !live {
		s.drop(key, it)
		return nil, gen, nil
	}
	if softAt != 0 {
		// The stored entry is shared: the mark goes on a copy.
		c := *it.e
		c.SoftSince = time.Unix(0, softAt)
		return &c, gen, nil
	}
	return it.e, gen, nil
}

// check reports whether it is live and, if a soft invalidation covers it,
// the earliest such one's time (unix nanoseconds; 0 for none).
func (s *Store) check(it *item) (live bool, softAt int64) {
	if it.gen < s.clearFloor.Load() {
		return false, 0
	}
	t := it.t
	if it.gen >= t.last.Load() {
		return true, 0
	}
	// The soft record before the floor: a soft invalidation raises the
	// floor before it replaces the record (see SoftInvalidateTenant).
	sr := t.soft.Load()
	if it.gen < t.floor.Load() {
		return false, 0
	}
	if sr != nil && sr.soft > it.gen {
		softAt = sr.softAt
	}
	for _, tag := range it.e.Tags {
		r, ok := s.tagRecs.load(t, tag)
		if !ok {
			continue
		}
		if r.gen > it.gen {
			return false, 0
		}
		if r.soft > it.gen && (softAt == 0 || r.softAt < softAt) {
			softAt = r.softAt
		}
	}
	return true, softAt
}

// drop deletes key if it still holds it (a newer fill may have replaced it).
func (s *Store) drop(key string, it *item) {
	s.cache.ComputeIfPresent(key, func(old *item) (*item, otter.ComputeOp) {
		if old == it {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// Set stores e under key for ttl (clamped to MaxTTL). The Store keeps e
// itself: the caller must not modify it afterwards. A fill that is already
// dead (its FetchGen predates an invalidation of one of its tags) is not
// stored at all.
func (s *Store) Set(_ context.Context, tenantName, key string, e *gateway.Entry, ttl time.Duration) error {
	if e == nil {
		return errors.New("memstore: nil entry")
	}
	if ttl <= 0 {
		return fmt.Errorf("memstore: ttl %v is not positive", ttl)
	}
	ttl = min(ttl, s.maxTTL)
	// A FetchGen ahead of this layer's counter came from elsewhere; clamp it
	// so the entry cannot outlive invalidations it has not seen.
	it := &item{e: e, t: s.tenant(tenantName), gen: min(e.FetchGen, s.gen.Load()), ttl: ttl}
	if live, _ := s.check(it); !live {
		s.cache.Invalidate(key)
		return nil
	}
	s.cache.Set(key, it)
	return nil
}

// Delete removes key.
func (s *Store) Delete(_ context.Context, _ string, key string) error {
	s.cache.Invalidate(key)
	return nil
}

// InvalidateTags kills every entry of tenantName that carries one of tags
// and was filled by a fetch that began before the call: one record per tag,
// whatever the number of entries.
func (s *Store) InvalidateTags(_ context.Context, tenantName string, tags []string) error {
	s.markTags(tenantName, tags, nil)
	return nil
}

// SoftInvalidateTags marks every entry of tenantName that carries one of
// tags, and was filled by a fetch that began before the call, stale since
// at (gateway.SoftInvalidator).
func (s *Store) SoftInvalidateTags(_ context.Context, tenantName string, tags []string, at time.Time) error {
	s.markTags(tenantName, tags, func(old record, g uint64, now int64) record {
		return old.softened(g, now, at.UnixNano())
	})
	return nil
}

// markTags replaces the record of each of tags by next of it, at a new
// generation; next nil is a hard invalidation, whose record replaces the
// old one whatever it was.
func (s *Store) markTags(tenantName string, tags []string, next func(old record, g uint64, now int64) record) {
	if len(tags) == 0 {
		return
	}
	t := s.tenant(tenantName)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := s.gen.Add(1)
	// Disable the fast path before writing records, so no Get skips them.
	storeMax(&t.last, g)
	now := s.now().UnixNano()
	if next == nil {
		hard := record{gen: g, at: now}
		for _, tag := range tags {
			s.tagRecs.set(t, tag, hard)
		}
	} else {
		apply := func(old record) record { return next(old, g, now) }
		for _, tag := range tags {
			s.tagRecs.update(t, tag, apply)
		}
	}
	s.maybePrune()
}

// SoftInvalidateTenant marks every entry of tenantName filled by a fetch
// that began before the call stale since at.
func (s *Store) SoftInvalidateTenant(_ context.Context, tenantName string, at time.Time) error {
	t := s.tenant(tenantName)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := s.gen.Add(1)
	storeMax(&t.last, g)
	var old record
	if p := t.soft.Load(); p != nil {
		old = *p
	}
	// What the previous soft invalidation left stale is dead from now:
	// raise the floor first, so a reader that sees the new record sees it.
	storeMax(&t.floor, old.soft)
	n := record{soft: g, softAt: at.UnixNano()}
	t.soft.Store(&n)
	return nil
}

// InvalidateTenant kills every entry of tenantName filled by a fetch that
// began before the call.
func (s *Store) InvalidateTenant(_ context.Context, tenantName string) error {
	t := s.tenant(tenantName)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := s.gen.Add(1)
	storeMax(&t.last, g)
	storeMax(&t.floor, g)
	return nil
}

// Clear kills every entry of every tenant in O(1); the dead entries free
// their memory as they are read, evicted or expire.
func (s *Store) Clear(context.Context) error {
	storeMax(&s.clearFloor, s.gen.Add(1))
	return nil
}

// WeightedSize is the approximate number of bytes the entries hold.
func (s *Store) WeightedSize() uint64 { return s.cache.WeightedSize() }

// Len is the approximate number of entries held.
func (s *Store) Len() int { return s.cache.EstimatedSize() }

// Evictions is how many entries were dropped to stay within MaxBytes.
func (s *Store) Evictions() uint64 { return s.evictions.Load() }

// Close stops the cache's background goroutines.
func (s *Store) Close() error {
	s.cache.StopAllGoroutines()
	return nil
}

func (s *Store) tenant(name string) *tenant {
	if v, ok := s.tenants.Load(name); ok {
		return v.(*tenant)
	}
	v, _ := s.tenants.LoadOrStore(name, &tenant{})
	return v.(*tenant)
}

// maybePrune sweeps invalidation records older than MaxTTL at most once per
// sweep interval, so their number stays bounded by the invalidation rate
// times MaxTTL, with amortized O(1) cost per invalidated tag.
func (s *Store) maybePrune() {
	now := s.now().UnixNano()
	interval := min(s.maxTTL/4, time.Hour).Nanoseconds()
	if now-s.lastPrune.Load() < interval || !s.pruneMu.TryLock() {
		return
	}
	defer s.pruneMu.Unlock()
	s.lastPrune.Store(now)
	cutoff := now - (s.maxTTL + pruneMargin).Nanoseconds()
	s.tagRecs.prune(cutoff)
}

// records counts the invalidation records held, for tests of pruning.
func (s *Store) records() int {
	return s.tagRecs.len()
}

func storeMax(a *atomic.Uint64, v uint64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// KeysByTag lists up to limit keys of tenant's live entries that carry
// tag, in no particular order: a walk of the whole cache, for an operator's
// question, never on the request path.
func (s *Store) KeysByTag(ctx context.Context, tenantName, tag string, limit int) ([]string, error) {
	tv, ok := s.tenants.Load(tenantName)
	out := []string{}
	if !ok {
		return out, nil
	}
	t := tv.(*tenant)
	for key, it := range s.cache.All() {
		if len(out) >= limit || ctx.Err() != nil {
			break
		}
		if it.t != t || !slices.Contains(it.e.Tags, tag) {
			continue
		}
		if live, _ := s.check(it); live {
			out = append(out, key)
		}
	}
	return out, ctx.Err()
}

var _ gateway.TagLister = (*Store)(nil)
