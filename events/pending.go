package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PendingBucket holds one key per invalidation that L2 has not recorded
// yet (it was unreachable when the coordinator tried). The coordinator
// writes the key before it broadcasts the event to the instances' L1 and
// deletes it once a retry got the invalidation into L2.
const PendingBucket = "CACHEGATE_L2_PENDING"

// DefaultSkewMargin is how far ahead of an invalidation's issue time an L2
// entry's fetch must have begun to be trusted while the invalidation is
// pending: entries carry the filling instance's clock, the issue time the
// publisher's.
const DefaultSkewMargin = 2 * time.Second

// pendingRecord is one invalidation L2 has not recorded yet.
type pendingRecord struct {
	Tenant     string    `json:"tenant"`
	Tags       []string  `json:"tags,omitempty"` // store tags (invalidation.Request.StoreTags)
	Everything bool      `json:"everything,omitempty"`
	Issued     time.Time `json:"issued"`
}

// L2Guard is what an instance knows of the invalidations L2 has not
// recorded yet, so that it serves no L2 entry they would have killed.
//
// Why a guard beside L2 rather than only retries: after an L2 outage the
// coordinator's retry lands up to one backoff later, and meanwhile every
// instance can read L2 again, pre-event entries included. The instances
// learn of each pending invalidation twice: in the L1 broadcast, applied
// before they ack it (so a live instance knows before the coordinator goes
// on), and from the PendingBucket, which a starting or reconnecting
// instance reads in full before its guard lets any L2 entry through.
//
// Until its first full read, the guard vetoes every L2 entry.
type L2Guard struct {
	margin time.Duration
	ready  atomic.Bool
	snap   atomic.Pointer[guardSnapshot]

	mu   sync.Mutex
	recs map[string]pendingRecord // by key
}

// guardSnapshot is the immutable form the request path reads.
type guardSnapshot struct {
	byTenant map[string][]guardRecord
}

type guardRecord struct {
	tags       map[string]struct{}
	everything bool
	deadBefore time.Time // issue time + margin
}

// NewL2Guard returns a guard that vetoes every L2 entry until an Instance
// started with it has read the pending invalidations. margin 0 means
// DefaultSkewMargin.
func NewL2Guard(margin time.Duration) *L2Guard {
	if margin <= 0 {
		margin = DefaultSkewMargin
	}
	return &L2Guard{margin: margin, recs: make(map[string]pendingRecord)}
}

// Invalidated reports whether an L2 entry of tenant with tags, whose fetch
// began at fetched, may be dead by an invalidation L2 has not recorded.
// It is on the hit path: one atomic load when nothing is pending.
func (g *L2Guard) Invalidated(tenant string, tags []string, fetched time.Time) bool {
	if !g.ready.Load() {
		return true
	}
	s := g.snap.Load()
	if s == nil {
		return false
	}
	for _, r := range s.byTenant[tenant] {
		if !fetched.Before(r.deadBefore) {
			continue
		}
		if r.everything {
			return true
		}
		for _, t := range tags {
			if _, ok := r.tags[t]; ok {
				return true
			}
		}
	}
	return false
}

// Pending is how many invalidations the guard knows L2 has not recorded.
func (g *L2Guard) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recs)
}

func (g *L2Guard) put(key string, r pendingRecord) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.recs[key] = r
	g.publish()
}

func (g *L2Guard) remove(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.recs[key]; ok {
		delete(g.recs, key)
		g.publish()
	}
}

// publish rebuilds the snapshot; g.mu is held. Pending invalidations are
// few (an L2 outage's worth), so a rebuild per change is cheap.
func (g *L2Guard) publish() {
	if len(g.recs) == 0 {
		g.snap.Store(nil)
		return
	}
	s := &guardSnapshot{byTenant: make(map[string][]guardRecord)}
	for _, r := range g.recs {
		gr := guardRecord{everything: r.Everything, deadBefore: r.Issued.Add(g.margin), tags: make(map[string]struct{}, len(r.Tags))}
		for _, t := range r.Tags {
			gr.tags[t] = struct{}{}
		}
		s.byTenant[r.Tenant] = append(s.byTenant[r.Tenant], gr)
	}
	g.snap.Store(s)
}

// resync reads kv in full and makes the guard hold exactly what it holds,
// for an instance back from a gap in its connection: its watch catches up
// by itself, but only some time after the instance serves again.
func (g *L2Guard) resync(ctx context.Context, kv jetstream.KeyValue) error {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("events: list %s: %w", PendingBucket, err)
	}
	recs := make(map[string]pendingRecord)
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("events: read %s: %w", PendingBucket, err)
		}
		var r pendingRecord
		if json.Unmarshal(e.Value(), &r) == nil && r.Tenant != "" {
			recs[k] = r
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.recs = recs
	g.publish()
	return nil
}

// watch reads kv in full, marks the guard ready, and follows kv's changes
// until ctx ends. It returns once the guard is ready.
func (g *L2Guard) watch(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("events: watch %s: %w", PendingBucket, err)
	}
	apply := func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			g.remove(e.Key())
			return
		}
		var r pendingRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil || r.Tenant == "" {
			log.Warn("unreadable pending L2 invalidation; ignored", "key", e.Key(), "err", err)
			return
		}
		g.put(e.Key(), r)
	}
	for {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("events: pending invalidations watch closed")
			}
			if e == nil { // the initial values are in
				g.ready.Store(true)
				go func() {
					defer func() { _ = w.Stop() }()
					for {
						select {
						case <-ctx.Done():
							return
						case e, ok := <-w.Updates():
							if !ok {
								return
							}
							if e != nil {
								apply(e)
							}
						}
					}
				}()
				return nil
			}
			apply(e)
		}
	}
}
