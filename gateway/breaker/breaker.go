// Package breaker is the circuit breaker of the shared cache layers
// (redisstore, memcachestore): after a connection failure the layer is
// skipped for a cooldown, during which calls fail at once; then one call
// probes, and its success closes it. A dead backend therefore costs a
// request nothing but an atomic load, and recovery needs no operator.
package breaker

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Breaker is a minimal circuit breaker; build it with New.
type Breaker struct {
	name      string // the backend, for the log ("redis")
	cooldown  time.Duration
	log       *slog.Logger
	openUntil atomic.Int64 // unix nanoseconds; 0 = closed
	probing   atomic.Bool
	now       func() time.Time
}

// New returns a closed breaker for the backend name that stays open for
// cooldown after a failure. A nil now means time.Now, a nil log discards.
func New(name string, cooldown time.Duration, log *slog.Logger, now func() time.Time) *Breaker {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Breaker{name: name, cooldown: cooldown, log: log, now: now}
}

// Allow reports whether a call may go to the backend.
func (b *Breaker) Allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	if b.now().UnixNano() < until {
		return false
	}
	return b.probing.CompareAndSwap(false, true) // one probe at a time
}

// Success records an answer from the backend: it closes the breaker.
func (b *Breaker) Success() {
	if b.openUntil.Load() != 0 && b.openUntil.Swap(0) != 0 {
		b.log.Info(b.name+" reachable again; L2 resumed", "backend", b.name)
	}
	b.probing.Store(false)
}

// Failure records a connection failure: it opens the breaker.
func (b *Breaker) Failure(err error) {
	if b.openUntil.Swap(b.now().Add(b.cooldown).UnixNano()) == 0 {
		b.log.Warn(b.name+" unreachable; skipping L2", "backend", b.name, "cooldown", b.cooldown, "err", err)
	}
	b.probing.Store(false)
}

// Abandon records a call given up by its caller, which says nothing about
// the backend: a probe may start again.
func (b *Breaker) Abandon() { b.probing.Store(false) }

// Open reports whether the breaker is open (for tests and health checks).
func (b *Breaker) Open() bool { return b.openUntil.Load() != 0 }
