package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/nats-io/nats.go/jetstream"
)

// Buckets of the state store.
const (
	// StatesBucket holds one key per purge and target ("<id>.<target>").
	StatesBucket = "CACHEGATE_PURGE_STATES"
	// FailedBucket holds one key per purge and provider that failed
	// for good (a permanent error), with the request, until it is
	// retried or dismissed.
	FailedBucket = "CACHEGATE_PURGE_FAILED"
	// DefaultStateTTL is how long states are kept when StatesConfig.TTL is 0.
	DefaultStateTTL = 7 * 24 * time.Hour
)

// ErrNotFound is returned for a purge id the store knows nothing about.
var ErrNotFound = errors.New("purge: not found")

// StatesConfig configures the state store.
type StatesConfig struct {
	// TTL bounds how long a purge's states are kept; 0 means
	// DefaultStateTTL. Failed purges are kept in FailedBucket regardless,
	// until retried or dismissed.
	TTL time.Duration
	// Replicas of the buckets on a NATS cluster; 0 means 1.
	Replicas int
}

// Validate reports a bad config.
func (c StatesConfig) Validate() error {
	if c.TTL < 0 {
		return fmt.Errorf("purge: states TTL %v is negative", c.TTL)
	}
	return nil
}

// States is the state of every purge at every target (gateway layers and
// CDN providers), in JetStream KV buckets shared by every instance.
type States struct {
	kv     jetstream.KeyValue
	failed jetstream.KeyValue
}

// Failure is a purge that a provider refused for good (a permanent
// error). It is kept until RetryFailed or Dismiss.
type Failure struct {
	ID       string               `json:"id"`
	Provider string               `json:"provider"`
	Request  invalidation.Request `json:"request"`
	Reason   string               `json:"reason"`
	Attempts int                  `json:"attempts"`
	Time     time.Time            `json:"time"`
	// Purge is the id of the purge this is a part of (PartID), for a
	// purge sent in parts; retry by either id.
	Purge string `json:"purge,omitempty"`
}

// OpenStates creates or updates the buckets and returns the store.
func OpenStates(ctx context.Context, js jetstream.JetStream, cfg StatesConfig) (*States, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultStateTTL
	}
	kv, err := ensure.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      StatesBucket,
		Description: "cachegate: state of each purge per layer and CDN provider",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("purge: open bucket %s: %w", StatesBucket, err)
	}
	failed, err := ensure.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      FailedBucket,
		Description: "cachegate: purges a CDN provider did not confirm, kept until retried",
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("purge: open bucket %s: %w", FailedBucket, err)
	}
	return &States{kv: kv, failed: failed}, nil
}

func stateKey(id, target string) string { return keyToken(id) + "." + target }

// SetState records the state of purge id at target, stamping Updated when
// it is zero.
func (s *States) SetState(ctx context.Context, id, target string, st State) error {
	if id == "" {
		return errors.New("purge: set state: empty id")
	}
	if err := ValidateTarget(target); err != nil {
		return err
	}
	if st.Updated.IsZero() {
		st.Updated = time.Now().UTC()
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("purge: encode state: %w", err)
	}
	if _, err := s.kv.Put(ctx, stateKey(id, target), b); err != nil {
		return fmt.Errorf("purge: set state %s/%s: %w", id, target, err)
	}
	return nil
}

// Accepted records purge id as queued at each target that has no state
// yet, before the purge is published: a client that follows its id from
// the moment it was accepted never finds it unknown.
func (s *States) Accepted(ctx context.Context, id string, targets []string) error {
	for _, t := range targets {
		if err := ValidateTarget(t); err != nil {
			return err
		}
		if err := s.initState(ctx, id, t, State{Status: StatusQueued, Updated: time.Now().UTC()}); err != nil {
			return err
		}
	}
	return nil
}

// initState records st only when the target has no state yet, so that a
// replayed Enqueue never moves a confirmed purge back to queued.
func (s *States) initState(ctx context.Context, id, target string, st State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("purge: encode state: %w", err)
	}
	_, err = s.kv.Create(ctx, stateKey(id, target), b)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("purge: init state %s/%s: %w", id, target, err)
	}
	return nil
}

// Get returns the state of purge id at each target it reached, or
// ErrNotFound. A purge sent in parts (SetParts) reads as one: per target,
// the least advanced of its parts, a failure in any showing.
func (s *States) Get(ctx context.Context, id string) (map[string]State, error) {
	parts, err := s.Parts(ctx, id)
	if err != nil {
		return nil, err
	}
	if parts != nil {
		return s.getParts(ctx, id, parts)
	}
	return s.getWhole(ctx, id)
}

func (s *States) getWhole(ctx context.Context, id string) (map[string]State, error) {
	prefix := keyToken(id) + "."
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("purge: list states of %s: %w", id, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	out := make(map[string]State, len(keys))
	for _, k := range keys {
		if strings.HasPrefix(strings.TrimPrefix(k, prefix), "=") {
			continue // the parts manifest, not a target
		}
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("purge: get state %s: %w", k, err)
		}
		var st State
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return nil, fmt.Errorf("purge: decode state %s: %w", k, err)
		}
		out[strings.TrimPrefix(k, prefix)] = st
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return out, nil
}

func (s *States) recordFailure(ctx context.Context, f Failure) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("purge: encode failure: %w", err)
	}
	if _, err := s.failed.Put(ctx, stateKey(f.ID, f.Provider), b); err != nil {
		return fmt.Errorf("purge: record failure %s/%s: %w", f.ID, f.Provider, err)
	}
	return nil
}

// Failed lists the failed purges (all of them when id is "", else those of
// id), oldest first.
func (s *States) Failed(ctx context.Context, id string) ([]Failure, error) {
	filter := ">"
	if id != "" {
		filter = keyToken(id) + ".*"
	}
	lister, err := s.failed.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("purge: list failures: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	out := make([]Failure, 0, len(keys))
	for _, k := range keys {
		e, err := s.failed.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("purge: get failure %s: %w", k, err)
		}
		var f Failure
		if err := json.Unmarshal(e.Value(), &f); err != nil {
			return nil, fmt.Errorf("purge: decode failure %s: %w", k, err)
		}
		if whole, _, ok := ParsePartID(f.ID); ok {
			f.Purge = whole
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Dismiss forgets the failure of purge id at provider without retrying it
// (an operator decided it no longer matters). Its state stays failed.
func (s *States) Dismiss(ctx context.Context, id, provider string) error {
	if err := s.failed.Delete(ctx, stateKey(id, provider)); err != nil {
		return fmt.Errorf("purge: dismiss %s/%s: %w", id, provider, err)
	}
	return nil
}
