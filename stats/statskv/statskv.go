// Package statskv shares every instance's stats through a JetStream
// key-value bucket, so that any instance's admin API and dashboard show
// the whole cluster: each instance puts its stats.Snapshot under its own
// key every Interval, and watches the bucket for the others'.
//
// A snapshot older than StaleAfter is left out (its instance stopped or
// lost NATS); the bucket's TTL removes it later. Counters are the
// instances' own since their start, so a merged total drops when an
// instance leaves, as a counter reset.
package statskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/stats"
)

// Bucket is the key-value bucket of the instances' snapshots.
const Bucket = "CACHEGATE_STATS"

// Defaults of Config's zero values.
const (
	DefaultInterval = 2 * time.Second
	// staleFactor: a snapshot is stale after this many Intervals without
	// a new one (one missed put is ordinary under load).
	staleFactor = 5
	// ttlFactor: the bucket forgets a key after this many Intervals.
	ttlFactor = 30
)

// Config configures a Board.
type Config struct {
	// Instance is this instance's key: letters, digits, '-' and '_'.
	Instance string
	// Source gives this instance's current snapshot; required.
	Source func() stats.Snapshot
	// Interval between puts; 0 = DefaultInterval.
	Interval time.Duration
	// Logger; nil = discard.
	Logger *slog.Logger
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.Instance == "" || len(c.Instance) > 128 {
		return errors.New("statskv: Instance must be 1 to 128 characters")
	}
	for i := 0; i < len(c.Instance); i++ {
		ch := c.Instance[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return fmt.Errorf("statskv: Instance %q: only letters, digits, '-' and '_'", c.Instance)
		}
	}
	if c.Source == nil {
		return errors.New("statskv: Source is required")
	}
	if c.Interval < 0 {
		return errors.New("statskv: Interval must not be negative")
	}
	return nil
}

// Board publishes this instance's snapshot and keeps the others' latest.
type Board struct {
	kv  jetstream.KeyValue
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	latest map[string]heard
}

// heard is an instance's snapshot and when it was put: staleness is judged
// by the NATS server's time of the put, not by the sender's clock.
type heard struct {
	snap stats.Snapshot
	at   time.Time
}

// Open makes the bucket exist and returns a Board; call Run.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Board, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	kv, err := ensure.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "cachegate: each instance's latest stats snapshot",
		TTL:         ttlFactor * cfg.Interval,
		// File: a NATS restart keeps the bucket (a memory one would be gone,
		// and every put after it refused).
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("statskv: open bucket %s: %w", Bucket, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Board{kv: kv, cfg: cfg, log: log, latest: map[string]heard{}}, nil
}

// Run puts this instance's snapshot every Interval and follows the
// others' until ctx ends; it returns nil then. Faults never end it: a
// failed put is logged and tried again at the next tick (the next put
// replaces it anyway), and a watch that cannot start, ends, or goes quiet
// is started again, so a NATS outage pauses the cluster view and never
// stops the instance. Quiet is judged by this instance's own puts, which
// come back through the watch every Interval: a watch that has delivered
// nothing for StaleAfter lost its consumer (a NATS restart does that
// without a word).
func (b *Board) Run(ctx context.Context) error {
	tick := time.NewTicker(b.cfg.Interval)
	defer tick.Stop()
	var w jetstream.KeyWatcher
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	var updates <-chan jetstream.KeyValueEntry
	var heard time.Time
	watch := func() {
		heard = time.Now()
		var err error
		if w, err = b.kv.WatchAll(ctx); err != nil {
			w, updates = nil, nil
			if ctx.Err() == nil {
				b.log.Warn("stats: watching the other instances failed; retried at the next tick", "err", err)
			}
			return
		}
		updates = w.Updates()
	}
	watch()
	b.put(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			b.put(ctx)
			if w != nil && time.Since(heard) > b.StaleAfter() {
				b.log.Warn("stats: the watch of the other instances went quiet; watching again")
				_ = w.Stop()
				w = nil
			}
			if w == nil {
				watch()
			}
		case e, ok := <-updates:
			if !ok {
				_ = w.Stop()
				w, updates = nil, nil // a nil channel: started again at the next tick
				continue
			}
			heard = time.Now()
			b.apply(e)
		}
	}
}

func (b *Board) put(ctx context.Context) {
	v, err := json.Marshal(b.cfg.Source())
	if err == nil {
		_, err = b.kv.Put(ctx, b.cfg.Instance, v)
	}
	if err != nil && ctx.Err() == nil {
		b.log.Warn("stats: publishing this instance's snapshot failed; retried at the next tick", "err", err)
	}
}

// apply records one watched entry; nil marks the end of the initial values.
func (b *Board) apply(e jetstream.KeyValueEntry) {
	if e == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(b.latest, e.Key())
		return
	}
	var s stats.Snapshot
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		b.log.Warn("stats: an instance's snapshot is unreadable", "instance", e.Key(), "err", err)
		return
	}
	// The server's time of the put, unless it is ahead of this clock: an
	// old value read at start is not taken as fresh.
	at := e.Created()
	if now := time.Now(); at.After(now) {
		at = now
	}
	b.latest[e.Key()] = heard{snap: s, at: at}
}

// Instances returns the latest snapshot of every instance heard from
// within StaleAfter, by instance key, this one's taken now.
func (b *Board) Instances(context.Context) (map[string]stats.Snapshot, error) {
	now := time.Now()
	out := map[string]stats.Snapshot{}
	b.mu.Lock()
	for k, h := range b.latest {
		if now.Sub(h.at) <= b.StaleAfter() {
			out[k] = h.snap
		}
	}
	b.mu.Unlock()
	out[b.cfg.Instance] = b.cfg.Source()
	return out, nil
}

// StaleAfter is how old a snapshot may be before its instance is left out.
func (b *Board) StaleAfter() time.Duration { return staleFactor * b.cfg.Interval }
