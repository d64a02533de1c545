package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// Crash: the coordinator stops mid-stream (its context cancelled, or its
// process gone with its connection), more events are published, a new
// coordinator takes over: every event is processed, and the durable purge
// queue holds each once.
func TestCoordinatorCrashResume(t *testing.T) {
	for _, mode := range []string{"cancel", "connection lost"} {
		t.Run(mode, func(t *testing.T) { testCrashResume(t, mode) })
	}
}

func testCrashResume(t *testing.T, mode string) {
	e := newEnv(t)
	ctx := context.Background()
	_, js := e.connect()
	q := newStreamQueue(t, js)
	p := e.publisher()
	cfg := events.CoordinatorConfig{Queue: q, AckWait: time.Second, MaxBatch: 20}

	cnc, cjs := e.connect()
	first, err := events.NewCoordinator(cjs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := first.Start(cctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	publish := func(n int) {
		for range n {
			id, err := p.Publish(ctx, companyEvent("acme", events.NewID()))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	publish(300)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if q.mem.distinct() < 50 {
			return errors.New("first coordinator has not started yet")
		}
		return nil
	})
	if mode == "cancel" {
		cancel()
	} else {
		cnc.Close() // no nak, no ack: redelivered after AckWait
	}
	first.Close()
	processedByFirst := q.mem.distinct()
	publish(200)

	e.coordinator(cfg)
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := q.mem.distinct(); n != len(ids) {
			return fmt.Errorf("%d of %d events processed", n, len(ids))
		}
		return nil
	})
	if n := q.stored(t); n != uint64(len(ids)) {
		t.Errorf("purge queue holds %d purges for %d events", n, len(ids))
	}
	calls := 0
	for _, id := range ids {
		calls += q.mem.count(id)
	}
	t.Logf("first coordinator processed %d before the crash; %d enqueue calls for %d events", processedByFirst, calls, len(ids))
}

// A NATS restart while events are being published loses none that
// JetStream acknowledged; the coordinator and instance carry on.
func TestNATSRestartLosesNoAckedEvent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, local, _ := e.instance("i1", 100*time.Millisecond)
	q := newMemQueue()
	c := e.coordinator(events.CoordinatorConfig{Queue: q, AckWait: 2 * time.Second, L1AckTimeout: time.Second})
	waitLive(t, c, "i1")
	p := e.publisher()

	const total = 2000
	var (
		mu    sync.Mutex
		acked []string
		count atomic.Int64
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for i := range total {
			ev := companyEvent("acme", fmt.Sprint(i))
			ev.ID = fmt.Sprintf("r-%d", i)
			// Retry with the same id until acknowledged, as an app would;
			// the id makes the retries safe.
			for attempt := 0; ; attempt++ {
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := p.Publish(pctx, ev)
				cancel()
				if err == nil {
					break
				}
				if attempt > 50 {
					t.Errorf("publish %s: %v", ev.ID, err)
					return
				}
				time.Sleep(20 * time.Millisecond) // retry pacing, not synchronisation
			}
			mu.Lock()
			acked = append(acked, ev.ID)
			mu.Unlock()
			count.Add(1)
		}
	})
	testenv.WaitFor(t, 10*time.Second, func() error {
		if count.Load() < total/4 {
			return errors.New("publishing")
		}
		return nil
	})
	e.n.Restart()
	atRestart := count.Load()
	wg.Wait()
	if atRestart >= total {
		t.Logf("publishing finished before the restart completed; the test proved less than it should")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != total {
		t.Fatalf("%d of %d published", len(acked), total)
	}
	testenv.WaitFor(t, 15*time.Second, func() error {
		for _, id := range acked {
			if q.count(id) == 0 {
				return fmt.Errorf("acknowledged event %s not processed", id)
			}
		}
		return nil
	})
	// Events applied while the instance was away are covered by its drop
	// on reconnect; from then on it gets every broadcast again.
	waitLive(t, c, "i1")
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "after")); err != nil {
		t.Fatal(err)
	}
	if !local.hasTag("acme", "company:after") {
		t.Error("the instance missed an event after the restart")
	}
	if ops := local.opsCopy(); !slices.Contains(ops, "disable") || ops[len(ops)-1] == "disable" {
		t.Errorf("instance L1 ops %v: want disabled during the restart and enabled after", ops)
	}
}

// An instance that loses its NATS connection disables and drops its L1;
// once back and resubscribed it drops again and re-enables, and receives
// broadcasts.
func TestDisconnectDropsAndReenablesL1(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, local, _ := e.instance("i1", 100*time.Millisecond)
	c := e.coordinator(events.CoordinatorConfig{})
	waitLive(t, c, "i1")
	e.n.Restart()
	testenv.WaitFor(t, 10*time.Second, func() error {
		ops := local.opsCopy()
		if len(ops) < 4 || ops[len(ops)-1] != "enable" {
			return fmt.Errorf("ops %v", ops)
		}
		return nil
	})
	ops := local.opsCopy()
	dis := slices.Index(ops, "disable")
	if dis < 0 || dis+1 >= len(ops) || ops[dis+1] != "drop" {
		t.Fatalf("on disconnect: ops %v, want disable then drop", ops)
	}
	for i, op := range ops {
		if op == "enable" && (i == 0 || ops[i-1] != "drop" || i < dis) {
			t.Fatalf("on reconnect: ops %v, want every enable after the disconnect and right after a drop", ops)
		}
	}
	local.mu.Lock()
	enabled := local.enabled
	local.mu.Unlock()
	if !enabled {
		t.Fatal("L1 left disabled")
	}
	p := e.publisher()
	waitLive(t, c, "i1")
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "after")); err != nil {
		t.Fatal(err)
	}
	if !local.hasTag("acme", "company:after") {
		t.Fatal("no broadcast after reconnect")
	}
}
