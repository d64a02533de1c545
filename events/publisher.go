package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultWaitTimeout bounds PublishAndWait when the context allows longer.
const DefaultWaitTimeout = 10 * time.Second

var (
	// ErrApplyTimeout: PublishAndWait gave up waiting; the event is durable
	// and will be applied later.
	ErrApplyTimeout = errors.New("invalidation not applied in time")
	// ErrDeadLettered: the coordinator gave up on the event and moved it to
	// the dead-letter stream.
	ErrDeadLettered = errors.New("event dead-lettered")
	// ErrL2Pending: PublishAndWait saw the event applied to every live
	// instance's L1 while L2 was unreachable. Readers see the change
	// already: every instance vetoes the older L2 entries of its tags
	// until the coordinator's retry records it in L2, which it does
	// however long L2 is down. It is not "applied" in the strict sense.
	ErrL2Pending = errors.New("applied to every instance's L1; L2 unreachable, its older entries vetoed until the invalidation is recorded there")
	// ErrNotAccepted: JetStream did not confirm the event was stored (NATS
	// unreachable, no stream, no ack in time). Nothing is promised: publish
	// it again with the same id, which is deduplicated if it did land.
	ErrNotAccepted = errors.New("event not accepted: JetStream did not confirm it was stored")
)

// PublisherConfig configures a Publisher. The zero value is valid.
type PublisherConfig struct {
	// WaitTimeout bounds PublishAndWait; 0 means DefaultWaitTimeout. The
	// context's deadline applies too, whichever is earlier.
	WaitTimeout time.Duration
	// AckTimeout bounds the wait for JetStream's confirmation that an
	// event is stored; past it, Publish and PublishAndWait return an error
	// wrapping ErrNotAccepted, to be published again with the same id.
	// While the events stream elects a new leader, a publish sent to the
	// dead one gets no answer: without this bound it waits out the whole
	// context (PublishAndWait: WaitTimeout), with it the caller learns in
	// AckTimeout and its retry reaches the new leader. A store takes
	// milliseconds, so a second or two is ample. 0 means no bound but the
	// context's.
	AckTimeout time.Duration
}

// Validate reports a configuration NewPublisher would refuse.
func (c PublisherConfig) Validate() error {
	if c.WaitTimeout < 0 || c.AckTimeout < 0 {
		return errors.New("events: negative wait or ack timeout")
	}
	return nil
}

// Publisher publishes events to CACHEGATE_EVENTS. It is what apps import.
type Publisher struct {
	js          jetstream.JetStream
	nc          *nats.Conn
	waitTimeout time.Duration
	ackTimeout  time.Duration

	mu      sync.Mutex
	applied jetstream.KeyValue
}

// NewPublisher returns a Publisher on js. nc carries the applied
// notifications PublishAndWait awaits; nil means js's own connection. The
// streams must exist (Setup).
func NewPublisher(js jetstream.JetStream, nc *nats.Conn, cfg PublisherConfig) (*Publisher, error) {
	if js == nil {
		return nil, errors.New("events: publisher needs a JetStream")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if nc == nil {
		nc = js.Conn()
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = DefaultWaitTimeout
	}
	return &Publisher{js: js, nc: nc, waitTimeout: cfg.WaitTimeout, ackTimeout: cfg.AckTimeout}, nil
}

// prepare fills the id, version and time, and validates and encodes e.
func prepare(e Event) (Event, []byte, error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.Version == 0 {
		e.Version = Version
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now().UTC()
	}
	if err := e.Validate(); err != nil {
		return e, nil, err
	}
	b, err := e.Marshal()
	if err != nil {
		return e, nil, err
	}
	if len(b) > MaxEventSize {
		return e, nil, invalid("", "encoded event of %d bytes exceeds %d bytes", len(b), MaxEventSize)
	}
	return e, b, nil
}

// Publish stores e in JetStream and returns its id once stored. The id is
// the Nats-Msg-Id, so publishing the same event again within the
// duplicate window is a no-op. A bad event is an error wrapping
// ErrInvalidEvent; one JetStream did not confirm, ErrNotAccepted.
func (p *Publisher) Publish(ctx context.Context, e Event) (string, error) {
	e, b, err := prepare(e)
	if err != nil {
		return e.ID, err
	}
	_, err = p.publish(ctx, e, b)
	return e.ID, err
}

// Connected returns an error wrapping ErrNotAccepted when a publish now
// could not be confirmed: the connection to NATS is not up. While it
// reconnects, the client would hold a message in its memory, and a caller
// could take the wait for durability.
func (p *Publisher) Connected() error {
	if st := p.js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("events: %w: NATS connection is %s", ErrNotAccepted, st)
	}
	return nil
}

func (p *Publisher) publish(ctx context.Context, e Event, b []byte) (*jetstream.PubAck, error) {
	if err := p.Connected(); err != nil {
		return nil, fmt.Errorf("events: publish %s: %w", e.ID, err)
	}
	msg := nats.NewMsg(e.Subject())
	msg.Data = b
	msg.Header.Set(HeaderPublished, strconv.FormatInt(time.Now().UnixNano(), 10))
	if p.ackTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.ackTimeout)
		defer cancel()
	}
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(StreamName))
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return nil, fmt.Errorf("events: publish %s: %w: %w (is stream %s set up?)", e.ID, ErrNotAccepted, err, StreamName)
	}
	if err != nil {
		return nil, fmt.Errorf("events: publish %s: %w: %w", e.ID, ErrNotAccepted, err)
	}
	return ack, nil
}

// PublishAndWait publishes e and returns only once the coordinator applied
// it: L2 invalidated and every live instance's L1 dropped. On timeout the
// error wraps ErrApplyTimeout (the event is durable and will be applied
// later); if the coordinator dead-lettered it, ErrDeadLettered; if L2 was
// unreachable but readers already see the change, ErrL2Pending. With
// several regions (Regions), applied means in the region of the NATS it
// publishes to; the others apply it one replication lag later.
func (p *Publisher) PublishAndWait(ctx context.Context, e Event) (string, error) {
	e, b, err := prepare(e)
	if err != nil {
		return e.ID, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.waitTimeout)
	defer cancel()

	// Subscribe before publishing, so the notification cannot be missed.
	notes := make(chan *nats.Msg, 4)
	sub, err := p.nc.ChanSubscribe(appliedSubject(e.ID), notes)
	if err != nil {
		return e.ID, fmt.Errorf("events: subscribe to applied notification: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if p.nc != p.js.Conn() {
		// Another connection publishes: make sure the server has our
		// subscription before the event can be processed.
		if err := p.nc.FlushWithContext(ctx); err != nil {
			return e.ID, fmt.Errorf("events: flush subscription: %w", err)
		}
	}
	ack, err := p.publish(ctx, e, b)
	if err != nil {
		return e.ID, err
	}
	var kvUpdates <-chan jetstream.KeyValueEntry
	if ack.Duplicate {
		// Published before: it may be applied already, and its notification
		// gone. The applied-ids bucket says so; watch it, as the coordinator
		// writes it just after notifying.
		w, err := p.watchApplied(ctx, e.ID)
		if err != nil {
			// JetStream holds the event (it answered "duplicate"): what
			// failed is only finding out whether it was applied (during a
			// leader election, the bucket may not answer in time).
			return e.ID, fmt.Errorf("events: event %s: %w (it is durable and will be applied; whether it was could not be read): %w", e.ID, ErrApplyTimeout, err)
		}
		defer func() { _ = w.Stop() }()
		kvUpdates = w.Updates()
	}
	for {
		select {
		case m := <-notes:
			var n appliedNote
			if err := json.Unmarshal(m.Data, &n); err != nil {
				continue
			}
			if n.Error != "" {
				return e.ID, fmt.Errorf("events: event %s: %w: %s", e.ID, ErrDeadLettered, n.Error)
			}
			if n.L2Pending {
				return e.ID, fmt.Errorf("events: event %s: %w", e.ID, ErrL2Pending)
			}
			return e.ID, nil
		case entry, ok := <-kvUpdates:
			if !ok {
				kvUpdates = nil
				continue
			}
			if entry != nil && entry.Operation() == jetstream.KeyValuePut {
				return e.ID, nil
			}
		case <-ctx.Done():
			return e.ID, fmt.Errorf("events: event %s: %w (it is durable and will be applied later): %w", e.ID, ErrApplyTimeout, ctx.Err())
		}
	}
}

func (p *Publisher) watchApplied(ctx context.Context, id string) (jetstream.KeyWatcher, error) {
	p.mu.Lock()
	kv := p.applied
	p.mu.Unlock()
	if kv == nil {
		var err error
		if kv, err = p.js.KeyValue(ctx, AppliedBucket); err != nil {
			return nil, fmt.Errorf("events: bucket %s: %w", AppliedBucket, err)
		}
		p.mu.Lock()
		p.applied = kv
		p.mu.Unlock()
	}
	w, err := kv.Watch(ctx, idToken(id))
	if err != nil {
		return nil, fmt.Errorf("events: watch applied %s: %w", id, err)
	}
	return w, nil
}
