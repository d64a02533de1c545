package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/nats-io/nats.go/jetstream"
)

// Setup is idempotent and makes what the contract names: the event stream
// on cachegate.events.> with file storage and a dedupe window of at least
// ten minutes, the dead-letter stream and the two buckets.
func TestSetup(t *testing.T) {
	e := newEnv(t) // Setup once
	ctx := context.Background()
	if err := events.Setup(ctx, e.js, events.StreamConfig{DuplicateWindow: 15 * time.Minute}); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	s, err := e.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "cachegate.events.>" || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 15*time.Minute {
		t.Errorf("event stream config %+v", cfg)
	}
	if _, err := e.js.Stream(ctx, events.DeadLetterStreamName); err != nil {
		t.Error(err)
	}
	for _, b := range []string{events.RegistryBucket, events.AppliedBucket} {
		if _, err := e.js.KeyValue(ctx, b); err != nil {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
}
