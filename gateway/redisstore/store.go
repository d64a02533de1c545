package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/breaker"
	"github.com/cachegate/cachegate/gateway/entrycodec"
)

// Store is the Redis L2 layer. It does not own its client: close the client
// after the Store's last use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	maxTTL time.Duration
	recTTL string // tag record TTL in ms, as an argument
	// recTTLArg is recTTL boxed once, for Get's arguments.
	recTTLArg any
	log       *slog.Logger
	br        *breaker.Breaker
	errs      atomic.Uint64 // failed calls, for the metrics

	tenants       sync.Map // tenant -> *tenantKeys
	cachedTenants atomic.Int64
	// minReplicas must acknowledge an invalidation (WAIT) within
	// waitTimeout; 0: not asked.
	minReplicas int
	waitTimeout time.Duration
}

var (
	_ gateway.Store    = (*Store)(nil)
	_ gateway.FillLock = (*Store)(nil)

	_ gateway.SoftInvalidator = (*Store)(nil)
)

// New returns a Store on rdb (see NewClient). Only cfg's store settings
// (Prefix, MaxTTL, Cooldown) are used here. A nil logger discards.
func New(rdb redis.UniversalClient, cfg Config, logger *slog.Logger) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		rdb:    rdb,
		prefix: cfg.Prefix,
		maxTTL: cfg.MaxTTL,
		recTTL: strconv.FormatInt((cfg.MaxTTL + recordMargin).Milliseconds(), 10),
		log:    logger,
	}
	s.recTTLArg = s.recTTL
	s.br = breaker.New("redis", cfg.Cooldown, logger, nil)
	if cfg.MinReplicas > 0 {
		// Within the read timeout of the call that carries it.
		s.minReplicas, s.waitTimeout = cfg.MinReplicas, cfg.ReadTimeout/2
	}
	return s, nil
}

// keys of one tenant: all inside the hash tag {prefix:tenant}. They are
// built once per tenant (up to maxCachedTenants), and the ones every Get
// sends are kept boxed as command arguments too, so an L2 hit does not
// allocate them again.
type tenantKeys struct {
	base                     string // "{cg:tenant}:"
	genKey, floorKey, tagPx  string
	genArg, floorArg, tagArg any
}

// maxCachedTenants bounds the keys kept per tenant: a policy deriving
// tenants from requests cannot grow the cache without limit.
const maxCachedTenants = 4096

func (s *Store) keys(tenant string) (*tenantKeys, error) {
	if k, ok := s.tenants.Load(tenant); ok {
		return k.(*tenantKeys), nil
	}
	if tenant == "" || strings.ContainsAny(tenant, "{}") {
		return nil, fmt.Errorf("redisstore: tenant %q is empty or contains braces", tenant)
	}
	base := "{" + s.prefix + ":" + tenant + "}:"
	k := &tenantKeys{base: base, genKey: base + "g", floorKey: base + "f", tagPx: base + "t:"}
	k.genArg, k.floorArg, k.tagArg = k.genKey, k.floorKey, k.tagPx
	if s.cachedTenants.Load() < maxCachedTenants {
		if _, loaded := s.tenants.LoadOrStore(tenant, k); !loaded {
			s.cachedTenants.Add(1)
		}
	}
	return k, nil
}

func (k *tenantKeys) gen() string             { return k.genKey }
func (k *tenantKeys) floor() string           { return k.floorKey }
func (k *tenantKeys) tagPrefix() string       { return k.tagPx }
func (k *tenantKeys) entry(key string) string { return k.base + "e:" + key }
func (k *tenantKeys) lock(key string) string  { return k.base + "l:" + key }

// begin asks the breaker whether to call Redis at all.
func (s *Store) begin(op string) error {
	if s.br.Allow() {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w (circuit open after a failure)", op, gateway.ErrUnavailable)
}

// end classifies err, informs the breaker, and wraps it.
func (s *Store) end(ctx context.Context, op string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		s.br.Success()
		return nil
	}
	s.errs.Add(1)
	var reply redis.Error
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The caller gave up: says nothing about Redis.
		s.br.Abandon()
		return fmt.Errorf("redisstore: %s: %w", op, err)
	case errors.As(err, &reply) && !unavailableReply(reply.Error()):
		s.br.Success() // Redis answered
		return fmt.Errorf("redisstore: %s: %w", op, err)
	case errors.As(err, &reply):
		s.br.Success()
		return fmt.Errorf("redisstore: %s: %w: %w", op, gateway.ErrUnavailable, err)
	}
	s.br.Failure(err)
	return fmt.Errorf("redisstore: %s: %w: %w", op, gateway.ErrUnavailable, err)
}

// unavailableReply reports server replies that mean "not now" rather than
// a bug in the request.
func unavailableReply(msg string) bool {
	for _, p := range []string{"LOADING", "BUSY", "OOM", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Available reports whether the store is currently using Redis (its
// circuit breaker is closed), for health checks and dashboards.
func (s *Store) Available() bool { return !s.br.Open() }

// Errors is how many calls to Redis failed (a caller's cancellation
// included), for the metrics.
func (s *Store) Errors() uint64 { return s.errs.Load() }

// Get returns the live entry under key, or nil, and tenant's generation, in
// one round trip. The entry is decoded fresh; the caller may keep it.
func (s *Store) Get(ctx context.Context, tenant, key string) (*gateway.Entry, uint64, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, 0, err
	}
	if err := s.begin("get"); err != nil {
		return nil, 0, err
	}
	// getScript.Run, with arguments built here: the tenant's keys are
	// boxed once, and the keys need no slice of their own.
	args := []any{"evalsha", getScript.Hash(), 3, k.entry(key), k.genArg, k.floorArg, k.tagArg, s.recTTLArg}
	res, err := s.rdb.Do(ctx, args...).Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		args[0], args[1] = "eval", getSource
		res, err = s.rdb.Do(ctx, args...).Slice()
	}
	if err = s.end(ctx, "get", err); err != nil {
		return nil, 0, err
	}
	if len(res) != 4 {
		return nil, 0, fmt.Errorf("redisstore: get: unexpected reply %v", res)
	}
	gen, _ := res[1].(int64)
	blob, ok := res[0].(string)
	if !ok {
		return nil, uint64(gen), nil
	}
	e, err := entrycodec.Decode(blob)
	if err != nil {
		// Written by an incompatible version or damaged: a miss, and gone.
		s.log.Warn("dropping undecodable L2 entry", "tenant", tenant, "err", err)
		_ = s.Delete(ctx, tenant, key)
		return nil, uint64(gen), nil
	}
	fg, _ := res[2].(int64)
	e.FetchGen = uint64(fg)
	if ms, _ := res[3].(int64); ms > 0 {
		e.SoftSince = time.UnixMilli(ms)
	}
	return e, uint64(gen), nil
}

// Set stores e under key for ttl (clamped to MaxTTL), unless its FetchGen
// predates an invalidation of its tenant or one of its tags.
func (s *Store) Set(ctx context.Context, tenant, key string, e *gateway.Entry, ttl time.Duration) error {
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if e == nil {
		return errors.New("redisstore: set: nil entry")
	}
	if ttl <= 0 {
		return fmt.Errorf("redisstore: set: ttl %v is not positive", ttl)
	}
	ttl = min(ttl, s.maxTTL)
	ms := max(ttl.Milliseconds(), 1)
	for _, t := range e.Tags {
		if t == "" || strings.Contains(t, "\n") {
			return fmt.Errorf("redisstore: set: tag %q is empty or contains a newline", t)
		}
	}
	if err := s.begin("set"); err != nil {
		return err
	}
	err = setScript.Run(ctx, s.rdb, []string{k.entry(key), k.gen(), k.floor()},
		k.tagPrefix(), e.FetchGen, strings.Join(e.Tags, "\n"), entrycodec.Encode(e), ms, s.recTTL).Err()
	return s.end(ctx, "set", err)
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, tenant, key string) error {
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if err := s.begin("delete"); err != nil {
		return err
	}
	return s.end(ctx, "delete", s.rdb.Del(ctx, k.entry(key)).Err())
}

// InvalidateTags kills every entry of tenant carrying one of tags whose
// fetch began before the call, in one script: O(1) per tag.
func (s *Store) InvalidateTags(ctx context.Context, tenant string, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if err := s.begin("invalidate tags"); err != nil {
		return err
	}
	args := make([]any, 0, len(tags)+2)
	args = append(args, k.tagPrefix(), s.recTTL)
	for _, t := range tags {
		args = append(args, t)
	}
	return s.invalidate(ctx, "invalidate tags", invalidateTagsScript, []string{k.gen(), k.floor()}, args...)
}

// InvalidateTenant kills every entry of tenant whose fetch began before the
// call.
func (s *Store) InvalidateTenant(ctx context.Context, tenant string) error {
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if err := s.begin("invalidate tenant"); err != nil {
		return err
	}
	return s.invalidate(ctx, "invalidate tenant", invalidateTenantScript, []string{k.gen(), k.floor()}, s.recTTL)
}

// invalidate runs an invalidation script and, with minReplicas, WAITs on
// the same connection (a pipeline) until that many replicas acknowledged
// it. Replication is asynchronous: a primary lost before its replica got
// the raise would come back, after the failover, without it. So the call
// fails (ErrUnavailable, and the caller retries while the instances'
// L2Guard holds the invalidation) until a replica has it; the replica
// Sentinel promotes is the one with the most of the stream.
func (s *Store) invalidate(ctx context.Context, op string, script *redis.Script, keys []string, args ...any) error {
	if s.minReplicas == 0 {
		return s.end(ctx, op, script.Run(ctx, s.rdb, keys, args...).Err())
	}
	var acked *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		script.Eval(ctx, p, keys, args...)
		acked = redis.NewIntCmd(ctx, "wait", s.minReplicas, s.waitTimeout.Milliseconds())
		_ = p.Process(ctx, acked)
		return nil
	})
	if err = s.end(ctx, op, err); err != nil {
		return err
	}
	if n := acked.Val(); n < int64(s.minReplicas) {
		s.errs.Add(1)
		return fmt.Errorf("redisstore: %s: %w: on the primary, but acknowledged by %d of %d replicas within %v (a failover now could lose it)",
			op, gateway.ErrUnavailable, n, s.minReplicas, s.waitTimeout)
	}
	return nil
}

// SoftInvalidateTags marks every entry of tenant carrying one of tags whose
// fetch began before the call stale since at (to the millisecond, rounded
// down), in one script (gateway.SoftInvalidator).
func (s *Store) SoftInvalidateTags(ctx context.Context, tenant string, tags []string, at time.Time) error {
	if len(tags) == 0 {
		return nil
	}
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if err := s.begin("soft invalidate tags"); err != nil {
		return err
	}
	args := make([]any, 0, len(tags)+3)
	args = append(args, k.tagPrefix(), s.recTTL, at.UnixMilli())
	for _, t := range tags {
		args = append(args, t)
	}
	return s.invalidate(ctx, "soft invalidate tags", softInvalidateTagsScript, []string{k.gen(), k.floor()}, args...)
}

// SoftInvalidateTenant marks every entry of tenant whose fetch began before
// the call stale since at.
func (s *Store) SoftInvalidateTenant(ctx context.Context, tenant string, at time.Time) error {
	k, err := s.keys(tenant)
	if err != nil {
		return err
	}
	if err := s.begin("soft invalidate tenant"); err != nil {
		return err
	}
	return s.invalidate(ctx, "soft invalidate tenant", softInvalidateTenantScript, []string{k.gen(), k.floor()}, s.recTTL, at.UnixMilli())
}
