package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// A soft event reaches L2 and every instance's L1 as a soft invalidation,
// a hard one as a hard one, also when both are in one batch: a hard
// invalidation merged into a soft one would lose its guarantee.
func TestSoftEventsStaySoftAndHardOnesHard(t *testing.T) {
	e := newEnv(t)
	_, local, _ := e.instance("i1", 200*time.Millisecond)
	shared := newFakeShared()
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: newMemQueue(), States: &memStates{}, Audit: &memAudit{}})
	waitLive(t, c, "i1")
	p := e.publisher()
	ctx := context.Background()
	soft := companyEvent("acme", "s")
	soft.Soft = true
	for _, ev := range []events.Event{soft, companyEvent("acme", "h")} {
		if _, err := p.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{"company:s": true, "company:h": false}
	testenv.WaitFor(t, 10*time.Second, func() error {
		for tag := range want {
			if !local.hasTag("acme", tag) {
				return fmt.Errorf("%s not applied to L1 yet", tag)
			}
		}
		return nil
	})
	local.mu.Lock()
	defer local.mu.Unlock()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for layer, reqs := range map[string]int{"l1": len(local.reqs), "l2": len(shared.reqs)} {
		if reqs == 0 {
			t.Fatalf("%s: no invalidation", layer)
		}
	}
	for _, r := range append(append(local.reqs[:0:0], local.reqs...), shared.reqs...) {
		for _, tag := range r.Tags {
			if soft, ok := want[tag]; ok && r.Soft != soft {
				t.Fatalf("%s reached a layer with soft=%v, want %v (request %+v)", tag, r.Soft, soft, r)
			}
		}
	}
}
