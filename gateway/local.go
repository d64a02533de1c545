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

// switchableStore is L1 with an off switch (SetLocalEnabled).
type switchableStore struct {
	Store
	off atomic.Bool
}

func (s *switchableStore) Get(ctx context.Context, tenant, key string) (*Entry, uint64, error) {
	if s.off.Load() {
		return nil, 0, errLocalDisabled
	}
	return s.Store.Get(ctx, tenant, key)
}

func (s *switchableStore) Set(ctx context.Context, tenant, key string, e *Entry, ttl time.Duration) error {
	if s.off.Load() {
		return nil
	}
	return s.Store.Set(ctx, tenant, key, e, ttl)
}

// SetLocalEnabled turns L1 off (neither read nor written) and on again. The
// event instance turns it off while it is cut off from invalidations, and
// drops L1 before turning it back on.
func (g *Gateway) SetLocalEnabled(enabled bool) {
	g.l1.off.Store(!enabled)
}

// LocalEnabled reports whether L1 is in use.
func (g *Gateway) LocalEnabled() bool { return !g.l1.off.Load() }

// Clear drops every entry of the wrapped store.
func (s *switchableStore) Clear(ctx context.Context) error {
	c, ok := s.Store.(Clearer)
	if !ok {
		return errors.New("gateway: L1 cannot be cleared (it does not implement Clearer)")
	}
	return c.Clear(ctx)
}
