package redisstore

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// breaker is a minimal circuit breaker: after a connection failure it opens
// for cooldown, during which calls fail at once; then one call probes, and
// its success closes it. A dead Redis therefore costs a request nothing but
// an atomic load, and recovery needs no operator.
type breaker struct {
	cooldown  time.Duration
	log       *slog.Logger
	openUntil atomic.Int64 // unix nanoseconds; 0 = closed
	probing   atomic.Bool
	now       func() time.Time
}

// allow reports whether a call may go to Redis.
func (b *breaker) allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	if b.now().UnixNano() < until {
		return false
	}
	return b.probing.CompareAndSwap(false, true) // one probe at a time
}

func (b *breaker) success() {
	if b.openUntil.Load() != 0 && b.openUntil.Swap(0) != 0 {
		b.log.Info("redis reachable again; L2 resumed")
	}
	b.probing.Store(false)
}

func (b *breaker) failure(err error) {
	if b.openUntil.Swap(b.now().Add(b.cooldown).UnixNano()) == 0 {
		b.log.Warn("redis unreachable; skipping L2", "cooldown", b.cooldown, "err", err)
	}
	b.probing.Store(false)
}

// open reports whether the breaker is open (for tests and health checks).
func (b *breaker) open() bool { return b.openUntil.Load() != 0 }
