package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/nats-io/nats.go"
)

// While L2 fails, every instance's L1 is invalidated anyway (otherwise each
// would serve its pre-event copy for the whole outage), and the event is
// still retried, L2 and L1 again, until L2 takes it.
func TestL1InvalidatedWhileL2Fails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var locals []*fakeLocal
	for _, id := range []string{"i1", "i2", "i3"} {
		_, l, _ := e.instance(id, 200*time.Millisecond)
		locals = append(locals, l)
	}
	shared, q := newFakeShared(), newMemQueue()
	shared.setFail("acme", true)
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q, BackoffBase: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	waitLive(t, c, "i1", "i2", "i3")
	id, err := e.publisher().Publish(ctx, companyEvent("acme", "k"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		for i, l := range locals {
			if !l.hasTag("acme", "company:k") {
				return fmt.Errorf("instance %d: L1 not invalidated while L2 fails", i+1)
			}
		}
		if n := len(shared.calls("company:k")); n < 2 {
			return fmt.Errorf("L2 tried %d times, want retries", n)
		}
		return nil
	})
	if q.count(id) != 0 {
		t.Fatal("the event was acked (its purge queued) although L2 failed")
	}
	shared.setFail("acme", false)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if q.count(id) != 1 {
			return errors.New("event not applied once L2 is back")
		}
		return nil
	})
	// The successful attempt applied L1 again after L2.
	for i, l := range locals {
		l.mu.Lock()
		n := 0
		for _, r := range l.reqs {
			if r.Tenant == "acme" {
				n++
			}
		}
		l.mu.Unlock()
		if tries := len(shared.calls("company:k")); n != tries {
			t.Errorf("instance %d: L1 invalidated %d times for %d attempts", i+1, n, tries)
		}
	}
}

// An instance whose heartbeats fail while its connection stays up (here:
// the registry bucket is gone; in the field: a silent partition) disables
// and drops its L1 before the coordinator stops awaiting it, that is
// within the TTL of its last successful heartbeat, and re-enables it
// (after another drop) once a heartbeat succeeds again.
func TestFailingHeartbeatsDisableL1WithoutDisconnect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const hb = 100 * time.Millisecond
	const ttl = events.DefaultTTLFactor * hb
	_, local, nc := e.instance("i1", hb)
	lost := time.Now() // every heartbeat that succeeded began before this
	if err := e.js.DeleteKeyValue(ctx, events.RegistryBucket); err != nil {
		t.Fatal(err)
	}
	// Whenever the timer that disables L1 runs (a loaded machine may run
	// it late), L1 serves nothing from the TTL on: the lease is checked
	// on every read.
	if local.usableAt(lost.Add(ttl)) {
		t.Errorf("L1 would still serve %v after the last heartbeat could have begun (lease %v)", ttl, local.lease)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		local.mu.Lock()
		defer local.mu.Unlock()
		if local.enabled {
			return errors.New("L1 still enabled")
		}
		return nil
	})
	if st := nc.Status(); st != nats.CONNECTED {
		t.Fatalf("connection status %v: the test meant heartbeats to fail without a disconnect", st)
	}
	ops := local.opsCopy()
	if len(ops) < 2 || ops[0] != "disable" || ops[1] != "drop" {
		t.Fatalf("ops %v, want disable then drop", ops)
	}

	if err := events.Setup(ctx, e.js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		local.mu.Lock()
		defer local.mu.Unlock()
		if !local.enabled {
			return errors.New("L1 still disabled after heartbeats succeed again")
		}
		return nil
	})
	ops = local.opsCopy()
	if n := len(ops); ops[n-1] != "enable" || ops[n-2] != "drop" {
		t.Fatalf("ops %v, want a drop right before the enable", ops)
	}
}

// While L2 fails, the instances learn the invalidation L2 has not
// recorded: a live one before it acks the broadcast, one that starts later
// before Start returns. Once L2 takes it, they forget it.
func TestInstancesKnowInvalidationsL2HasNotRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	live := events.NewL2Guard(time.Millisecond)
	e.instanceWith(events.InstanceConfig{ID: "i1", Heartbeat: 200 * time.Millisecond, L2Guard: live})
	shared, q := newFakeShared(), newMemQueue()
	shared.setFail("acme", true)
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q, BackoffBase: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	waitLive(t, c, "i1")
	fetched := time.Now()
	_, err := e.publisher().PublishAndWait(ctx, companyEvent("acme", "k"))
	if !errors.Is(err, events.ErrL2Pending) {
		t.Fatalf("PublishAndWait with L2 failing = %v, want ErrL2Pending", err)
	}
	// The waiter was told only once the live instance knew.
	if !live.Invalidated("acme", []string{"company:k"}, fetched) {
		t.Fatal("the live instance does not veto an older L2 entry of the invalidated tag")
	}
	if live.Invalidated("acme", []string{"company:other"}, fetched) || live.Invalidated("berg", []string{"company:k"}, fetched) {
		t.Fatal("the live instance vetoes entries the invalidation does not concern")
	}
	late := events.NewL2Guard(time.Millisecond)
	e.instanceWith(events.InstanceConfig{ID: "i2", Heartbeat: 200 * time.Millisecond, L2Guard: late})
	if !late.Invalidated("acme", []string{"company:k"}, fetched) {
		t.Fatal("an instance started later does not know the pending invalidation")
	}
	shared.setFail("acme", false)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if live.Pending() != 0 || late.Pending() != 0 {
			return fmt.Errorf("pending: live %d, late %d", live.Pending(), late.Pending())
		}
		return nil
	})
	if live.Invalidated("acme", []string{"company:k"}, fetched) {
		t.Fatal("still vetoed after L2 recorded the invalidation")
	}
}
