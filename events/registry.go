package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
// current entries are loaded. The watch is restarted after every
// reconnect: its consumer may not survive a server restart, and would
// otherwise only notice after missing several idle heartbeats.
func (r *registry) watch(ctx context.Context, nc *nats.Conn, kv jetstream.KeyValue, ready chan<- struct{}) error {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	status := nc.StatusChanged(nats.CONNECTED)
	go func() {
		defer nc.RemoveStatusListener(status)
		readyOnce := sync.OnceFunc(func() { close(ready) })
		for {
			restart := r.follow(ctx, w, status, readyOnce)
			_ = w.Stop()
			if !restart {
				return
			}
			for {
				if w, err = kv.WatchAll(ctx); err == nil {
					break
				}
				r.log.Warn("registry watch not restarted; retrying", "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return nil
}

// follow applies w's updates until ctx ends (false) or the connection was
// re-established (true).
func (r *registry) follow(ctx context.Context, w jetstream.KeyWatcher, status chan nats.Status, ready func()) bool {
	initial := true
	for {
		select {
		case <-ctx.Done():
			return false
		case <-status:
			return true
		case e, ok := <-w.Updates():
			if !ok {
				return false
			}
			if e == nil {
				initial = false
				ready()
				continue
			}
			r.apply(e, initial)
		}
	}
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

// live returns the ids of the instances live at now, sorted. It forgets
// the lapsed ones: an instance that died without deregistering leaves no
// delete in the bucket (its key just ages out), and each restart is a new
// id, so they would pile up. One that comes back puts its key again.
func (r *registry) live(now time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.expires))
	for id, exp := range r.expires {
		if now.Before(exp) {
			out = append(out, id)
		} else {
			delete(r.expires, id)
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
