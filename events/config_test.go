package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/events"
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
		{"ttl below heartbeat", events.InstanceConfig{Heartbeat: 2, TTL: 1}.Validate(), "must exceed"},
		{"bad instance id", events.InstanceConfig{ID: "a b"}.Validate(), "instance id"},
		{"negative wait", events.PublisherConfig{WaitTimeout: -1}.Validate(), "negative"},
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
func errorsIs(err, target error) bool { return errors.Is(err, target) }
