package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/nats-io/nats.go"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"short duplicate window", events.StreamConfig{DuplicateWindow: 1}.Validate(), "duplicate window"},
		{"negative max batch", events.CoordinatorConfig{MaxBatch: -1}.Validate(), "negative"},
		{"bad durable", events.CoordinatorConfig{Durable: "a.b"}.Validate(), "durable"},
		{"short pinned ttl", events.CoordinatorConfig{PinnedTTL: time.Second}.Validate(), "pinned ttl"},
		{"too many partitions", events.StreamConfig{Partitions: events.MaxPartitions + 1}.Validate(), "partitions"},
		{"negative partitions", events.StreamConfig{Partitions: -1}.Validate(), "partitions"},
		{"ttl below heartbeat", events.InstanceConfig{Heartbeat: 2, TTL: 1}.Validate(), "must exceed"},
		{"bad instance id", events.InstanceConfig{ID: "a b"}.Validate(), "instance id"},
		{"negative wait", events.PublisherConfig{WaitTimeout: -1}.Validate(), "negative"},
		{"negative ack timeout", events.PublisherConfig{AckTimeout: -1}.Validate(), "negative"},
	}
	for _, tt := range tests {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, tt.err, tt.want)
		}
	}
	for _, err := range []error{events.StreamConfig{}.Validate(),
		events.CoordinatorConfig{}.Validate(), events.InstanceConfig{}.Validate(), events.PublisherConfig{}.Validate()} {
		if err != nil {
			t.Errorf("zero config: %v", err)
		}
	}
}

// Publish refuses a bad event with ErrInvalidEvent, and PublishAndWait
// with no coordinator times out with ErrApplyTimeout, the event durable.
func TestPublishErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, js := e.connect()
	p, err := events.NewPublisher(js, nil, events.PublisherConfig{WaitTimeout: 100_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, events.Event{Tenant: "acme"}); !errorsIs(err, events.ErrInvalidEvent) {
		t.Fatalf("Publish of an empty event = %v", err)
	}
	id, err := p.PublishAndWait(ctx, companyEvent("acme", "a"))
	if !errorsIs(err, events.ErrApplyTimeout) || !errorsIs(err, context.DeadlineExceeded) || id == "" {
		t.Fatalf("PublishAndWait without coordinator = %q, %v", id, err)
	}
	s, _ := js.Stream(ctx, events.StreamName)
	if info, _ := s.Info(ctx); info.State.Msgs != 1 {
		t.Fatalf("event not durable: %+v", info.State)
	}
}

// TestPublishAckTimeout: when JetStream does not answer a publish (as a
// stream leader that died has not), AckTimeout fails it fast with
// ErrNotAccepted, where the publisher would otherwise wait out its whole
// wait timeout. The silence is made on the real server: the stream is
// removed and a subscriber that never replies takes its subjects.
func TestPublishAckTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	nc, _ := e.connect()
	if _, err := nc.Subscribe("cachegate.events.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	_, js := e.connect()
	const ackTimeout, waitTimeout = 150 * time.Millisecond, 1500 * time.Millisecond
	tests := []struct {
		name     string
		cfg      events.PublisherConfig
		min, max time.Duration
	}{
		{"ack timeout", events.PublisherConfig{WaitTimeout: waitTimeout, AckTimeout: ackTimeout}, ackTimeout, waitTimeout / 2},
		{"none", events.PublisherConfig{WaitTimeout: waitTimeout}, waitTimeout, 3 * waitTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := events.NewPublisher(js, nil, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = p.PublishAndWait(ctx, companyEvent("acme", "a"))
			took := time.Since(start)
			if !errorsIs(err, events.ErrNotAccepted) {
				t.Fatalf("PublishAndWait with no answer from JetStream = %v, want ErrNotAccepted", err)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("failed after %v, want between %v and %v", took, tt.min, tt.max)
			}
		})
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestDuplicateWaitWithoutItsStateIsDurable: a wait-publish of an event
// JetStream already holds (a retry after an answer lost in an election)
// watches the applied-ids bucket; when that bucket cannot be read, the
// answer still says what holds: durable, to be applied (ErrApplyTimeout),
// never a bare error a client would take for "not accepted".
func TestDuplicateWaitWithoutItsStateIsDurable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, js := e.connect()
	p, err := events.NewPublisher(js, nil, events.PublisherConfig{WaitTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ev := companyEvent("acme", "dup")
	ev.ID = "dup-1" // the same id both times: the second is a duplicate
	// No coordinator runs: the first wait times out, the event durable.
	if _, err := p.PublishAndWait(ctx, ev); !errorsIs(err, events.ErrApplyTimeout) {
		t.Fatalf("first PublishAndWait = %v, want ErrApplyTimeout", err)
	}
	if err := js.DeleteKeyValue(ctx, events.AppliedBucket); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PublishAndWait(ctx, ev); !errorsIs(err, events.ErrApplyTimeout) {
		t.Fatalf("PublishAndWait of the duplicate with its state unreadable = %v, want ErrApplyTimeout", err)
	}
}
