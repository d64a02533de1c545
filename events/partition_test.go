package events_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/nats-io/nats.go/jetstream"
)

// applyLog is an L2 shared by several coordinators that records, in the
// order they reach it, which event keys of which tenant were applied and
// by whom.
type applyLog struct {
	mu    sync.Mutex
	keys  map[string][]int     // tenant → keys, in apply order
	by    map[string]int       // coordinator → calls
	first map[string]time.Time // "coordinator/tenant" → its first call
}

func newApplyLog() *applyLog {
	return &applyLog{keys: map[string][]int{}, by: map[string]int{}, first: map[string]time.Time{}}
}

// as is the SharedInvalidator of coordinator name.
func (a *applyLog) as(name string) events.SharedInvalidator { return namedShared{a, name} }

type namedShared struct {
	a    *applyLog
	name string
}

func (s namedShared) InvalidateShared(_ context.Context, req invalidation.Request) error {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	s.a.by[s.name]++
	if k := s.name + "/" + req.Tenant; s.a.first[k].IsZero() {
		s.a.first[k] = time.Now()
	}
	for _, tag := range req.Tags {
		if k, ok := strings.CutPrefix(tag, "company:"); ok {
			n, _ := strconv.Atoi(k)
			s.a.keys[req.Tenant] = append(s.a.keys[req.Tenant], n)
		}
	}
	return nil
}

// count is the number of distinct events applied (a redelivered one is
// applied again).
func (a *applyLog) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, ks := range a.keys {
		seen := map[int]bool{}
		for _, k := range ks {
			seen[k] = true
		}
		n += len(seen)
	}
	return n
}

// checkOrder fails unless every tenant's keys 0..perTenant-1 were each
// applied, and first applied in publish order.
func (a *applyLog) checkOrder(t *testing.T, tenants []string, perTenant int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, tn := range tenants {
		seen := map[int]bool{}
		var order []int
		for _, k := range a.keys[tn] {
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
		if len(order) != perTenant {
			t.Errorf("tenant %s: %d distinct events applied, want %d", tn, len(order), perTenant)
		}
		if !slices.IsSorted(order) {
			t.Errorf("tenant %s: applied out of publish order: %v", tn, order)
		}
	}
}

// publishBurst publishes perTenant events per tenant, asynchronously, key
// i of each tenant after key i-1.
func publishBurst(t testing.TB, js jetstream.JetStream, tenants []string, from, perTenant int) {
	t.Helper()
	for i := from; i < from+perTenant; i++ {
		for _, tn := range tenants {
			m, err := companyEvent(tn, strconv.Itoa(i)).Msg()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.PublishMsgAsync(m); err != nil {
				t.Fatal(err)
			}
		}
		if i%100 == 99 {
			// Stay under the client's bound on unacknowledged publishes.
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishes not acknowledged")
	}
}

// waitDealt waits until cs pull from every partition, each from one of
// them, and each of cs from at least one.
func waitDealt(t testing.TB, cs ...*events.Coordinator) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, func() error {
		var all []int
		for i, c := range cs {
			ps := c.Partitions()
			if len(ps) == 0 {
				return fmt.Errorf("coordinator %d pulls from no partition", i)
			}
			all = append(all, ps...)
		}
		slices.Sort(all)
		if want := []int{0, 1, 2, 3}; !slices.Equal(all, want) {
			return fmt.Errorf("partitions pulled from: %v, want %v once each", all, want)
		}
		return nil
	})
}

func tenantNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%02d", i)
	}
	return out
}

// Several coordinators share the partitions (each pulls from some), and
// each tenant's events are applied in publish order, each once.
func TestPartitionsKeepTenantOrderAcrossCoordinators(t *testing.T) {
	e := newEnv(t)
	log := newApplyLog()
	var cs []*events.Coordinator
	for i := range 3 {
		cs = append(cs, e.coordinator(events.CoordinatorConfig{Shared: log.as(fmt.Sprint(i)), MaxBatch: 20, PinnedTTL: 2 * time.Second}))
	}
	waitDealt(t, cs...)
	tenants := tenantNames(12)
	_, js := e.connect()
	const per = 150
	publishBurst(t, js, tenants, 0, per)
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := log.count(); n < per*len(tenants) {
			return fmt.Errorf("%d of %d applied", n, per*len(tenants))
		}
		return nil
	})
	log.checkOrder(t, tenants, per)
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.by) < 2 {
		t.Errorf("one coordinator did all the work: %v", log.by)
	}
	t.Logf("L2 calls per coordinator: %v", log.by)
}

// A coordinator that dies (its connection gone, no goodbye) mid-burst
// hands its partitions over: every event is still applied, and the
// hand-over takes about the pinned TTL (plus AckWait for the events it
// held unacked).
func TestPartitionHandOverWhenACoordinatorDies(t *testing.T) {
	e := newEnv(t)
	log := newApplyLog()
	const ttl = 2 * time.Second
	cfg := func(name string) events.CoordinatorConfig {
		return events.CoordinatorConfig{Shared: log.as(name), MaxBatch: 20, PinnedTTL: ttl, AckWait: 3 * time.Second}
	}
	survivor := e.coordinator(cfg("survivor"))
	victimConn, victimJS := e.connect()
	victim, err := events.NewCoordinator(victimJS, cfg("victim"))
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Close() })
	waitDealt(t, survivor, victim)
	tenants := tenantNames(8)
	_, js := e.connect()
	const per = 100
	publishBurst(t, js, tenants, 0, per)
	testenv.WaitFor(t, 10*time.Second, func() error {
		log.mu.Lock()
		defer log.mu.Unlock()
		if log.by["victim"] == 0 {
			return fmt.Errorf("the victim applied nothing yet")
		}
		return nil
	})
	victimConn.Close()
	killed := time.Now()
	log.mu.Lock()
	before := log.by["survivor"]
	log.mu.Unlock()
	publishBurst(t, js, tenants, per, per)
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := log.count(); n < 2*per*len(tenants) {
			return fmt.Errorf("%d of %d applied", n, 2*per*len(tenants))
		}
		return nil
	})
	if got := survivor.Partitions(); len(got) != 4 {
		t.Errorf("survivor pulls from %v, want every partition", got)
	}
	// Every event applied; a tenant's events past the death may precede
	// the redelivery of those the victim held unacked (see doc.go), so
	// the order is checked on what the survivor alone applied.
	seen := 0
	log.mu.Lock()
	for _, tn := range tenants {
		distinct := map[int]bool{}
		for _, k := range log.keys[tn] {
			distinct[k] = true
		}
		seen += len(distinct)
		if len(distinct) != 2*per {
			t.Errorf("tenant %s: %d of %d events applied", tn, len(distinct), 2*per)
		}
	}
	log.mu.Unlock()
	done := time.Since(killed)
	// Hand-over: from the kill to the survivor's first call for a tenant
	// the victim had.
	var handOver time.Duration
	log.mu.Lock()
	for _, tn := range tenants {
		if v, s := log.first["victim/"+tn], log.first["survivor/"+tn]; !v.IsZero() && s.After(killed) {
			if d := s.Sub(killed); handOver == 0 || d < handOver {
				handOver = d
			}
		}
	}
	log.mu.Unlock()
	if handOver == 0 {
		t.Error("the survivor never took a tenant of the victim's")
	}
	t.Logf("hand-over %v after the kill; all %d events applied %v after it (pinned ttl %v, ack wait 3s); survivor calls before %d",
		handOver.Round(time.Millisecond), seen, done.Round(time.Millisecond), ttl, before)
	if limit := ttl + 3*time.Second + 10*time.Second; done > limit {
		t.Errorf("hand-over took %v, more than %v", done, limit)
	}
}

// A stream set up before partitioning: its events (stored under their
// published subjects) are applied by the old shared durable, and only
// then do the partitions start; nothing is lost across the upgrade and a
// tenant's old events go before its new ones.
func TestPartitionUpgradeFromUnpartitionedStream(t *testing.T) {
	n := testenv.StartNATS(t)
	e := &env{t: t, n: n}
	_, e.js = e.connect()
	ctx := context.Background()
	// The stream as Setup made it before partitioning.
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{events.SubjectPrefix + ">"},
		Storage: jetstream.FileStorage, Duplicates: events.DefaultDuplicateWindow}); err != nil {
		t.Fatal(err)
	}
	tenants := tenantNames(4)
	const per = 100
	publishBurst(t, e.js, tenants, 0, per)
	if err := events.Setup(ctx, e.js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	publishBurst(t, e.js, tenants, per, per)
	s, err := e.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.GetLastMsgForSubject(ctx, events.PartitionSubjectPrefix+">")
	if err != nil {
		t.Fatalf("no event stored under a partition subject after Setup: %v", err)
	}
	t.Logf("stored as %s", last.Subject)
	// One coordinator, so that the old lane (shared by every coordinator,
	// as before partitioning) is applied in order too.
	log := newApplyLog()
	e.coordinator(events.CoordinatorConfig{Shared: log.as("new"), MaxBatch: 20, PinnedTTL: 2 * time.Second})
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := log.count(); n < 2*per*len(tenants) {
			return fmt.Errorf("%d of %d applied", n, 2*per*len(tenants))
		}
		return nil
	})
	log.checkOrder(t, tenants, 2*per)

	// The count of an existing stream is not changed.
	if err := events.Setup(ctx, e.js, events.StreamConfig{Partitions: 8}); err == nil || !strings.Contains(err.Error(), "has 4 partitions") {
		t.Errorf("Setup with another partition count: %v, want a refusal", err)
	}
	if err := events.Setup(ctx, e.js, events.StreamConfig{Partitions: 4}); err != nil {
		t.Errorf("Setup with the stream's count: %v", err)
	}
}

// TestPartitionedThroughput measures events/s applied (L2 and the L1 of
// three instances, each event once) with 1, 2 and 4 coordinators over the
// default four partitions, 16 tenants. The short form runs in make test
// with few events; CACHEGATE_SCALE=long publishes 20,000 per run.
func TestPartitionedThroughput(t *testing.T) {
	total := 2000
	if os.Getenv("CACHEGATE_SCALE") == "long" {
		total = 20000
	}
	for _, n := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("coordinators=%d", n), func(t *testing.T) {
			e := newEnv(t)
			ids := []string{"i1", "i2", "i3"}
			for _, id := range ids {
				e.instance(id, time.Second)
			}
			log := newApplyLog()
			var cs []*events.Coordinator
			for i := range n {
				cs = append(cs, e.coordinator(events.CoordinatorConfig{Shared: log.as(fmt.Sprint(i)), PinnedTTL: 2 * time.Second}))
			}
			waitLive(t, cs[0], ids...)
			waitDealt(t, cs...)
			tenants := tenantNames(16)
			_, js := e.connect()
			start := time.Now()
			publishBurst(t, js, tenants, 0, total/len(tenants))
			testenv.WaitFor(t, 2*time.Minute, func() error {
				if got := log.count(); got < total {
					return fmt.Errorf("%d of %d applied", got, total)
				}
				return nil
			})
			elapsed := time.Since(start)
			log.checkOrder(t, tenants, total/len(tenants))
			t.Logf("%d coordinators: %d events in %v: %.0f events/s", n, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
		})
	}
}
