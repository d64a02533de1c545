package gateway

import (
	"context"
	"time"
)

// L2Guard knows of invalidations the shared layer has not recorded yet
// (it was unreachable when they were issued). *events.L2Guard implements
// it.
type L2Guard interface {
	// Invalidated reports whether an entry of tenant with tags, whose
	// fetch began at fetched, may be dead by such an invalidation.
	Invalidated(tenant string, tags []string, fetched time.Time) bool
}

// guardedStore is L2 behind its guard: an entry the guard vetoes is a
// miss, on every path that reads L2 (lookup, the fill lock's waiters).
type guardedStore struct {
	Store
	guard L2Guard
}

func (s *guardedStore) unwrap() Store { return s.Store }

func (s *guardedStore) Get(ctx context.Context, tenant, key string) (*Entry, uint64, error) {
	e, gen, err := s.Store.Get(ctx, tenant, key)
	if e != nil && s.guard.Invalidated(tenant, e.Tags, e.RequestTime) {
		return nil, gen, nil
	}
	return e, gen, err
}
