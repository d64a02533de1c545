package events_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The embedded server takes clients on its port with JetStream, and keeps
// the events in its store directory across a restart.
func TestEmbedded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := events.StartEmbedded(ctx, events.EmbeddedConfig{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	if !strings.HasPrefix(srv.URL(), "nats://127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("URL %q, addr %q", srv.URL(), addr)
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	p, err := events.NewPublisher(js, nc, events.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, companyEvent("acme", "a")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()

	srv, err = events.StartEmbedded(ctx, events.EmbeddedConfig{Listen: addr, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err = nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("after restart: %v, %+v", err, info)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"embedded without store", events.EmbeddedConfig{}.Validate(), "store directory"},
		{"embedded bad listen", events.EmbeddedConfig{StoreDir: "x", Listen: "nope"}.Validate(), "listen"},
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
	for _, err := range []error{events.EmbeddedConfig{StoreDir: "x"}.Validate(), events.StreamConfig{}.Validate(),
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
