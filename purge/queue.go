package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The queue's stream and consumer.
const (
	StreamName = "CACHEGATE_PURGES"
	Subject    = "cachegate.purges"
	// ConsumerName is the durable consumer every dispatcher shares, so
	// that instances split the work and a restarted one resumes it.
	ConsumerName = "cachegate-purge-dispatcher"
	// DefaultDedupeWindow is the stream's duplicate window: a request
	// enqueued again with the same id within it is stored once.
	DefaultDedupeWindow = 10 * time.Minute
)

// Message is what the queue holds for one purge.
type Message struct {
	Request invalidation.Request `json:"request"`
	// Providers are the providers the purge goes to (those of the queue's
	// config, or the failed ones on a retry); empty means every provider
	// the dispatcher has.
	Providers []string `json:"providers,omitempty"`
	// Enqueued is when the purge was first enqueued; the latency metric
	// runs from it to the provider's confirmation.
	Enqueued time.Time `json:"enqueued"`
}

// QueueConfig configures the durable purge queue.
type QueueConfig struct {
	// Providers are the names of the configured CDN providers; Enqueue
	// records the purge as queued at each. Empty: no provider states.
	Providers []string
	// DedupeWindow is the stream's duplicate window; 0 means
	// DefaultDedupeWindow. It must be at least a minute so that a
	// coordinator's retries and crash replays never enqueue twice.
	DedupeWindow time.Duration
	// Registerer receives the queue's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Replicas of the stream on a NATS cluster; 0 means 1.
	Replicas int
}

// Validate reports a bad config.
func (c QueueConfig) Validate() error {
	if c.DedupeWindow != 0 && c.DedupeWindow < time.Minute {
		return fmt.Errorf("purge: dedupe window %v is under a minute", c.DedupeWindow)
	}
	for _, p := range c.Providers {
		if err := ValidateTarget(p); err != nil {
			return err
		}
	}
	return nil
}

// Queue is the durable purge queue, a work-queue JetStream stream.
type Queue struct {
	js        jetstream.JetStream
	states    *States
	providers []string
	requested prometheus.Counter
}

// OpenQueue creates or updates the stream and returns the queue.
func OpenQueue(ctx context.Context, js jetstream.JetStream, states *States, cfg QueueConfig) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if states == nil {
		return nil, errors.New("purge: queue needs a state store")
	}
	window := cfg.DedupeWindow
	if window == 0 {
		window = DefaultDedupeWindow
	}
	_, err := ensure.Stream(ctx, js, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "cachegate: CDN purges waiting for delivery",
		Subjects:    []string{Subject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  window,
		Replicas:    max(cfg.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("purge: open stream %s: %w", StreamName, err)
	}
	q := &Queue{
		js:        js,
		states:    states,
		providers: append([]string(nil), cfg.Providers...),
		requested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachegate_purge_requested_total",
			Help: "CDN purges enqueued (duplicates of an id within the dedupe window count once).",
		}),
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(q.requested); err != nil {
			return nil, fmt.Errorf("purge: register metrics: %w", err)
		}
	}
	return q, nil
}

// Enqueue stores req durably for delivery to every provider and returns
// once JetStream has it. req.ID is the message id: enqueueing the same id
// again within the dedupe window is a no-op, so callers retry freely.
func (q *Queue) Enqueue(ctx context.Context, req invalidation.Request) error {
	if req.ID == "" {
		return fmt.Errorf("%w: a purge needs an id", invalidation.ErrInvalid)
	}
	if err := req.Validate(); err != nil {
		return err
	}
	// The message names the providers whose queued state was recorded,
	// so that a dispatcher configured without one of them fails the purge
	// there visibly instead of leaving it queued forever.
	m := Message{Request: req, Providers: q.providers, Enqueued: time.Now().UTC()}
	return q.publish(ctx, m, req.ID, q.providers, false)
}

// publish records the queued states before the message is durable so that
// a fast dispatcher's sent/confirmed states are never overwritten by it.
// A fresh Enqueue only creates missing states; a retry overwrites the
// failed ones.
func (q *Queue) publish(ctx context.Context, m Message, msgID string, providers []string, overwrite bool) error {
	queued := State{Status: StatusQueued, Updated: time.Now().UTC()}
	for _, p := range providers {
		var err error
		if overwrite {
			err = q.states.SetState(ctx, m.Request.ID, p, queued)
		} else {
			err = q.states.initState(ctx, m.Request.ID, p, queued)
		}
		if err != nil {
			return err
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("purge: encode %s: %w", m.Request.ID, err)
	}
	ack, err := q.js.Publish(ctx, Subject, b, jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("purge: enqueue %s: %w", m.Request.ID, err)
	}
	if !ack.Duplicate {
		q.requested.Inc()
	}
	return nil
}

// RetryFailed enqueues purge id again for the providers at which it failed
// and forgets those failures. It returns ErrNotFound when id has none.
func (q *Queue) RetryFailed(ctx context.Context, id string) error {
	fails, err := q.states.Failed(ctx, id)
	if err != nil {
		return err
	}
	if len(fails) == 0 {
		return fmt.Errorf("%w: no failed purge %s", ErrNotFound, id)
	}
	providers := make([]string, 0, len(fails))
	msgID := id + "#retry"
	for _, f := range fails {
		providers = append(providers, f.Provider)
		// The failure time makes the message id unique per failure, so
		// that two operators retrying at once enqueue it once.
		msgID += fmt.Sprintf("-%s-%d", f.Provider, f.Time.UnixNano())
	}
	m := Message{Request: fails[0].Request, Providers: providers, Enqueued: time.Now().UTC()}
	if err := q.publish(ctx, m, msgID, providers, true); err != nil {
		return err
	}
	for _, p := range providers {
		if err := q.states.Dismiss(ctx, id, p); err != nil {
			return err
		}
	}
	return nil
}
