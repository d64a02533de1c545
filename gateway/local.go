package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// errLocalDisabled is the L1 "outage" while the instance may be missing
// invalidations: the request path then treats L1 like a layer that is down
// (no lookup, no fill) and goes on with L2 and the origin.
var errLocalDisabled = fmt.Errorf("L1 disabled until invalidations are received again: %w", ErrUnavailable)

// switchableStore is L1 with an off switch (SetLocalEnabled) and a lease
// (SetLocalLease).
type switchableStore struct {
	Store
	off atomic.Bool
	// lease is the Unix time in nanoseconds until which L1 may serve; 0
	// means no lease. It is checked on every read, not by a timer, so a
	// starved or resumed process cannot serve one L1 hit past it.
	lease atomic.Int64
}

func (s *switchableStore) usable() bool {
	if s.off.Load() {
		return false
	}
	l := s.lease.Load()
	return l == 0 || time.Now().UnixNano() < l
}

func (s *switchableStore) Get(ctx context.Context, tenant, key string) (*Entry, uint64, error) {
	if !s.usable() {
		return nil, 0, errLocalDisabled
	}
	return s.Store.Get(ctx, tenant, key)
}

func (s *switchableStore) Set(ctx context.Context, tenant, key string, e *Entry, ttl time.Duration) error {
	if !s.usable() {
		return nil
	}
	return s.Store.Set(ctx, tenant, key, e, ttl)
}

// SetLocalLease lets L1 serve only until until; the zero time removes the
// lease. The event instance moves it with each successful heartbeat, so
// that L1 stops serving before the coordinator stops awaiting this
// instance's acknowledgements, whatever the scheduler does.
func (g *Gateway) SetLocalLease(until time.Time) {
	if until.IsZero() {
		g.l1.lease.Store(0)
		return
	}
	g.l1.lease.Store(until.UnixNano())
}

// SetLocalEnabled turns L1 off (neither read nor written) and on again. The
// event instance turns it off while it is cut off from invalidations, and
// drops L1 before turning it back on.
func (g *Gateway) SetLocalEnabled(enabled bool) {
	g.l1.off.Store(!enabled)
}

// LocalEnabled reports whether L1 is in use (switched on, lease running).
func (g *Gateway) LocalEnabled() bool { return g.l1.usable() }

func (s *switchableStore) unwrap() Store { return s.Store }

// Clear drops every entry of the wrapped store.
func (s *switchableStore) Clear(ctx context.Context) error {
	c, ok := s.Store.(Clearer)
	if !ok {
		return errors.New("gateway: L1 cannot be cleared (it does not implement Clearer)")
	}
	return c.Clear(ctx)
}
