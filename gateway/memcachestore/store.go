package memcachestore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/breaker"
)

// Store is the memcached L2 layer.
type Store struct {
	mc      *memcache.Client
	prefix  string
	maxTTL  time.Duration
	maxItem int
	log     *slog.Logger
	br      *breaker.Breaker
	errs    atomic.Uint64 // failed calls, for the metrics
	now     func() time.Time
}

var _ gateway.Store = (*Store)(nil)

// New returns a Store on the servers cfg names. It does not connect: the
// first call does. A nil logger discards.
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	servers, err := cfg.servers()
	if err != nil {
		return nil, err
	}
	r, err := newRing(servers)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mc := memcache.NewFromSelector(r)
	mc.Timeout = cfg.Timeout
	mc.MaxIdleConns = cfg.MaxIdleConns
	return &Store{
		mc:      mc,
		prefix:  cfg.Prefix,
		maxTTL:  cfg.MaxTTL,
		maxItem: cfg.MaxItemSize,
		log:     logger,
		br:      breaker.New("memcached", cfg.Cooldown, logger, nil),
		now:     time.Now,
	}, nil
}

// Close closes the idle connections.
func (s *Store) Close() error { return s.mc.Close() }

// Available reports whether the store is currently using memcached (its
// circuit breaker is closed), for health checks and dashboards.
func (s *Store) Available() bool { return !s.br.Open() }

// Errors is how many calls to memcached failed, for the metrics.
func (s *Store) Errors() uint64 { return s.errs.Load() }

// Ping checks that every server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.end("ping", s.mc.Ping())
}

// Key kinds: the tenant's generation record, a tag record, an entry.
const (
	kindGen   = 'g'
	kindTag   = 't'
	kindEntry = 'e'
)

// key is prefix:kind:hash. Tenants, tags and keys are arbitrary strings
// and memcached keys are at most 250 bytes without spaces or control
// characters, so the name is hashed (128 bits of SHA-256). An entry also
// stores its tenant and key, so a collision is a miss, never another
// tenant's response; colliding tags or tenants only invalidate more.
func (s *Store) key(kind byte, tenant, name string) string {
	h := sha256.New()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	return s.prefix + ":" + string(kind) + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16])
}

func (s *Store) tagKeys(tenant string, tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = s.key(kindTag, tenant, t)
	}
	return out
}

// tagRecords reads the records of tags in one multi-get (by server).
func (s *Store) tagRecords(tenant string, tags []string) ([]string, map[string]*memcache.Item, error) {
	keys := s.tagKeys(tenant, tags)
	recs, err := s.mc.GetMulti(keys)
	if err = s.end("get tag records", err); err != nil {
		return nil, nil, err
	}
	return keys, recs, nil
}

// begin asks the breaker whether to call memcached at all.
func (s *Store) begin(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memcachestore: %s: %w", op, err)
	}
	if s.br.Allow() {
		return nil
	}
	return fmt.Errorf("memcachestore: %s: %w (circuit open after a failure)", op, gateway.ErrUnavailable)
}

// end classifies err, informs the breaker, and wraps it. The client's
// answers about items (miss, not stored, CAS conflict) come back as they
// are, for the caller to test with errors.Is.
func (s *Store) end(op string, err error) error {
	switch {
	case err == nil, errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCASConflict):
		s.br.Success()
		return err
	case errors.Is(err, memcache.ErrMalformedKey):
		s.br.Success()
		s.errs.Add(1)
		return fmt.Errorf("memcachestore: %s: %w", op, err)
	case errors.Is(err, memcache.ErrServerError):
		// memcached answered, but cannot now (out of memory).
		s.br.Success()
		s.errs.Add(1)
		return fmt.Errorf("memcachestore: %s: %w: %w", op, gateway.ErrUnavailable, err)
	}
	s.errs.Add(1)
	s.br.Failure(err)
	return fmt.Errorf("memcachestore: %s: %w: %w", op, gateway.ErrUnavailable, err)
}

// Get returns the live entry under key, or nil, and tenant's generation.
// The generation record and the entry are read in one multi-get; only an
// entry filled before the tenant's last invalidation costs a second one,
// of its tag records.
func (s *Store) Get(ctx context.Context, tenant, key string) (*gateway.Entry, uint64, error) {
	if err := s.begin(ctx, "get"); err != nil {
		return nil, 0, err
	}
	gk, ek := s.key(kindGen, tenant, ""), s.key(kindEntry, tenant, key)
	items, err := s.mc.GetMulti([]string{gk, ek})
	if err = s.end("get", err); err != nil {
		return nil, 0, err
	}
	st, err := s.stateOf(gk, items[gk])
	if err != nil {
		return nil, 0, err
	}
	it := items[ek]
	if it == nil {
		return nil, st.gen, nil
	}
	e, err := s.decode(it.Value, tenant, key)
	if err != nil {
		// Written by an incompatible version, damaged or expired: a miss.
		if !errors.Is(err, errNotOurs) {
			_ = s.end("delete", s.mc.Delete(ek))
		}
		return nil, st.gen, nil
	}
	live, err := s.live(tenant, e.FetchGen, e.Tags, st)
	if err != nil {
		return nil, 0, err
	}
	if !live {
		_ = s.end("delete", s.mc.Delete(ek))
		return nil, st.gen, nil
	}
	return e, st.gen, nil
}

// live reports whether an entry of generation fg carrying tags is live
// under st: see the package doc.
func (s *Store) live(tenant string, fg uint64, tags []string, st genState) (bool, error) {
	if fg > st.gen || fg < st.floor {
		return false, nil
	}
	if fg == st.gen || len(tags) == 0 {
		return true, nil
	}
	return s.tagsAllow(tenant, tags, fg, st, false)
}

// Set stores e under key for ttl (clamped to MaxTTL), unless its FetchGen
// predates an invalidation of its tenant or one of its tags. Every tag of
// a stored entry has a record (created here if missing), so that a record
// found missing later was evicted.
func (s *Store) Set(ctx context.Context, tenant, key string, e *gateway.Entry, ttl time.Duration) error {
	if e == nil {
		return errors.New("memcachestore: set: nil entry")
	}
	if ttl <= 0 {
		return fmt.Errorf("memcachestore: set: ttl %v is not positive", ttl)
	}
	for _, t := range e.Tags {
		if t == "" {
			return errors.New("memcachestore: set: empty tag")
		}
	}
	ttl = min(ttl, s.maxTTL)
	value := s.encode(tenant, key, e, s.now().Add(ttl))
	if len(value) > s.maxItem {
		return fmt.Errorf("memcachestore: set: entry of %d bytes is over the servers' item size of %d (memcached -I)", len(value), s.maxItem)
	}
	if err := s.begin(ctx, "set"); err != nil {
		return err
	}
	gk, ek := s.key(kindGen, tenant, ""), s.key(kindEntry, tenant, key)
	st, err := s.state(gk)
	if err != nil {
		return err
	}
	ok := e.FetchGen <= st.gen && e.FetchGen >= st.floor
	if ok {
		if ok, err = s.tagsAllow(tenant, e.Tags, e.FetchGen, st, true); err != nil {
			return err
		}
	}
	if !ok {
		// A dead fill: not stored, and whatever was under key is older.
		if err := s.end("delete", s.mc.Delete(ek)); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return err
		}
		return nil
	}
	// memcached expires in whole seconds; the stored deadline is exact.
	secs := int32(min((ttl+2*time.Second-1)/time.Second, MaxTTLLimit/time.Second))
	return s.end("set", s.mc.Set(&memcache.Item{Key: ek, Value: value, Expiration: secs}))
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, tenant, key string) error {
	if err := s.begin(ctx, "delete"); err != nil {
		return err
	}
	err := s.end("delete", s.mc.Delete(s.key(kindEntry, tenant, key)))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// InvalidateTags raises tenant's generation, then raises each tag's record
// to it: O(1) per tag, whatever the number of entries that carry it.
func (s *Store) InvalidateTags(ctx context.Context, tenant string, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	if err := s.begin(ctx, "invalidate tags"); err != nil {
		return err
	}
	g, err := s.bump(ctx, s.key(kindGen, tenant, ""), false)
	if err != nil {
		return err
	}
	for _, k := range s.tagKeys(tenant, tags) {
		if err := s.raise(ctx, k, g); err != nil {
			return err
		}
	}
	return nil
}

// InvalidateTenant raises tenant's generation and floor together.
func (s *Store) InvalidateTenant(ctx context.Context, tenant string) error {
	if err := s.begin(ctx, "invalidate tenant"); err != nil {
		return err
	}
	_, err := s.bump(ctx, s.key(kindGen, tenant, ""), true)
	return err
}
