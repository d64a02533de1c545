package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// registry is the coordinator's in-memory view of the live instances, kept
// by watching the registry bucket, so no event pays a read.
type registry struct {
	mu      sync.Mutex
	expires map[string]time.Time
	log     *slog.Logger
}

func newRegistry(log *slog.Logger) *registry {
	return &registry{expires: make(map[string]time.Time), log: log}
}

// watch follows the bucket until ctx ends; ready is closed once the
// current entries are loaded.
func (r *registry) watch(ctx context.Context, kv jetstream.KeyValue, ready chan<- struct{}) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	go func() {
		defer func() { _ = w.Stop() }()
		initial := true
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					if initial {
						initial = false
						close(ready)
					}
					continue
				}
				r.apply(e, initial)
			}
		}
	}()
	return nil
}

func (r *registry) apply(e jetstream.KeyValueEntry, initial bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(r.expires, e.Key())
		return
	}
	var info instanceInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil || info.TTL <= 0 {
		r.log.Warn("ignoring a malformed registry entry", "key", e.Key())
		return
	}
	// Old entries are timed from when they were written; live updates
	// from when they arrived, which is immune to clock skew.
	base := time.Now()
	if initial {
		base = e.Created()
	}
	r.expires[e.Key()] = base.Add(info.TTL)
}

// live returns the ids of the instances live at now, sorted.
func (r *registry) live(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.expires))
	for id, exp := range r.expires {
		if now.Before(exp) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// isLive reports whether id is live at now.
func (r *registry) isLive(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp, ok := r.expires[id]
	return ok && now.Before(exp)
}
