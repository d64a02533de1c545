package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/events/outbox"
	"github.com/cachegate/cachegate/internal/testenv"
)

func setup(t *testing.T) (*testenv.NATS, *events.Publisher, jetstream.JetStream) {
	t.Helper()
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	pub, err := events.NewPublisher(js, nil, events.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, pub, js
}

func event(key string) events.Event {
	return events.Event{ID: "ev-" + key, Tenant: "acme", Type: "company.updated", Entity: "company", Key: key}
}

// streamIDs counts the events in the stream by id.
func streamIDs(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]int)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		ev, err := events.ParseEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		ids[ev.ID]++
	}
	return ids
}

// Events published while NATS is down are kept on disk, across a restart
// of the app, and delivered once each when NATS is back.
func TestOutboxDeliversWhatNATSMissed(t *testing.T) {
	srv, pub, js := setup(t)
	dir := filepath.Join(t.TempDir(), "outbox")
	ob, err := outbox.Open(pub, outbox.Config{Dir: dir, RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := ob.Publish(ctx, event("up"))
	if err != nil || r.Where != outbox.InJetStream {
		t.Fatalf("with NATS up: %+v %v, want in JetStream", r, err)
	}
	if _, err := outbox.Open(pub, outbox.Config{Dir: dir}); err == nil {
		t.Fatal("a second outbox opened the same directory")
	}

	srv.Shutdown()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if pub.Connected() == nil {
			return errors.New("client still connected")
		}
		return nil
	})
	for i := range 3 {
		r, err := ob.Publish(ctx, event(fmt.Sprint(i)))
		if err != nil || r.Where != outbox.InOutbox {
			t.Fatalf("with NATS down: %+v %v, want in the outbox", r, err)
		}
	}
	// The app restarts while NATS is still down.
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	ob, err = outbox.Open(pub, outbox.Config{Dir: dir, RetryDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if n := ob.Len(); n != 3 {
		t.Fatalf("after a restart the outbox holds %d events, want 3", n)
	}

	srv.Resume()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := ob.Len(); n != 0 {
			return fmt.Errorf("%d events still in the outbox", n)
		}
		return nil
	})
	ids := streamIDs(t, js)
	for _, k := range []string{"up", "0", "1", "2"} {
		if ids["ev-"+k] != 1 {
			t.Errorf("event %s is in the stream %d times, want once (stream: %v)", k, ids["ev-"+k], ids)
		}
	}
}

// A full outbox refuses, and says the event was not accepted; an invalid
// event is refused before anything is written.
func TestOutboxBoundsAndRefusals(t *testing.T) {
	srv, pub, _ := setup(t)
	ob, err := outbox.Open(pub, outbox.Config{Dir: t.TempDir(), MaxEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	ctx := context.Background()
	if _, err := ob.Publish(ctx, events.Event{Entity: "company", Key: "x"}); !errors.Is(err, events.ErrInvalidEvent) {
		t.Fatalf("event without a tenant: %v, want ErrInvalidEvent", err)
	}
	srv.Shutdown()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if pub.Connected() == nil {
			return errors.New("client still connected")
		}
		return nil
	})
	if r, err := ob.Publish(ctx, event("a")); err != nil || r.Where != outbox.InOutbox {
		t.Fatalf("first: %+v %v", r, err)
	}
	if _, err := ob.Publish(ctx, event("b")); !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("second into a full outbox: %v, want ErrFull", err)
	}
}
