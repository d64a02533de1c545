package purge_test

import (
	"errors"
	"testing"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/nats-io/nats.go/jetstream"
)

func TestEnqueueIsDurableAndDeduplicated(t *testing.T) {
	e := newEnv(t, "cloudflare", "fastly")
	req := tagReq("evt-1", "acme", "company:acme")
	e.enqueue(req, req) // a coordinator retry
	s, err := e.js.Stream(t.Context(), purge.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d messages after enqueueing one id twice, want 1", info.State.Msgs)
	}
	if info.Config.Retention != jetstream.WorkQueuePolicy || info.Config.Duplicates < purge.DefaultDedupeWindow {
		t.Errorf("stream retention %v duplicates %v", info.Config.Retention, info.Config.Duplicates)
	}
	states, err := e.states.Get(t.Context(), "evt-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cloudflare", "fastly"} {
		if states[p].Status != purge.StatusQueued {
			t.Errorf("state at %s = %+v, want queued", p, states[p])
		}
	}
	// The queue survives a server restart (file storage).
	e.nats.Restart()
	js := connect(t, e.nats.URL)
	s, err = js.Stream(t.Context(), purge.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info, err = s.Info(t.Context()); err != nil || info.State.Msgs != 1 {
		t.Fatalf("after restart: %v messages, err %v", info.State.Msgs, err)
	}
}

func TestEnqueueRejectsBadRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		req  invalidation.Request
	}{
		{"no id", invalidation.Request{Tenant: "acme", Tags: []string{"a"}}},
		{"no tenant", invalidation.Request{ID: "x", Tags: []string{"a"}}},
		{"nothing to purge", invalidation.Request{ID: "x", Tenant: "acme"}},
		{"bad tag", invalidation.Request{ID: "x", Tenant: "acme", Tags: []string{"a b"}}},
	}
	for _, tt := range tests {
		if err := e.queue.Enqueue(t.Context(), tt.req); !errors.Is(err, invalidation.ErrInvalid) {
			t.Errorf("%s: Enqueue() = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestStates(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.states.Get(ctx, "nope"); !errors.Is(err, purge.ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
	// Ids are chosen by publishers: any string works.
	id := "event 42/ü.x"
	for target, st := range map[string]purge.Status{purge.TargetL1: purge.StatusApplied, purge.TargetL2: purge.StatusApplied, "cloudflare": purge.StatusSent} {
		if err := e.states.SetState(ctx, id, target, purge.State{Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.states.SetState(ctx, id, "bad.target", purge.State{}); err == nil {
		t.Error("SetState accepted a target with a dot")
	}
	got, err := e.states.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["l1"].Status != purge.StatusApplied || got["cloudflare"].Status != purge.StatusSent || got["l2"].Updated.IsZero() {
		t.Fatalf("Get = %+v", got)
	}
	// A similar id's states never leak in.
	if err := e.states.SetState(ctx, id+"x", "l1", purge.State{Status: purge.StatusApplied}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.states.Get(ctx, id); len(got) != 3 {
		t.Fatalf("Get sees another id's state: %+v", got)
	}
}

// TestAcceptedNeverMovesBack: a purge recorded as accepted reads as queued
// at once, and recording it as accepted after the coordinator applied it
// (the coordinator may be faster than the API's own write) keeps applied.
func TestAcceptedNeverMovesBack(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	targets := []string{purge.TargetL1, purge.TargetL2}
	if err := e.states.Accepted(ctx, "p1", targets); err != nil {
		t.Fatal(err)
	}
	got, err := e.states.Get(ctx, "p1")
	if err != nil || len(got) != 2 || got[purge.TargetL1].Status != purge.StatusQueued || got[purge.TargetL2].Status != purge.StatusQueued {
		t.Fatalf("Get after Accepted = %+v, %v; want both queued", got, err)
	}
	if err := e.states.SetState(ctx, "p2", purge.TargetL1, purge.State{Status: purge.StatusApplied}); err != nil {
		t.Fatal(err)
	}
	if err := e.states.Accepted(ctx, "p2", targets); err != nil {
		t.Fatal(err)
	}
	got, err = e.states.Get(ctx, "p2")
	if err != nil || got[purge.TargetL1].Status != purge.StatusApplied || got[purge.TargetL2].Status != purge.StatusQueued {
		t.Fatalf("Get = %+v, %v; want l1 applied (not moved back), l2 queued", got, err)
	}
	if err := e.states.Accepted(ctx, "p3", []string{"bad.target"}); err == nil {
		t.Error("Accepted took a target with a dot")
	}
}
