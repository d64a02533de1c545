package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// env is a NATS server with the streams set up.
type env struct {
	t  testing.TB
	n  *testenv.NATS
	js jetstream.JetStream
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, n: testenv.StartNATS(t)}
	_, e.js = e.connect()
	if err := events.Setup(context.Background(), e.js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// connect opens a connection of its own that reconnects forever, quickly.
func (e *env) connect() (*nats.Conn, jetstream.JetStream) {
	e.t.Helper()
	nc, err := nats.Connect(e.n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return nc, js
}

func (e *env) publisher() *events.Publisher {
	e.t.Helper()
	_, js := e.connect()
	p, err := events.NewPublisher(js, nil, events.PublisherConfig{WaitTimeout: 10 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// coordinator starts a coordinator on its own connection, stopped when the
// test ends.
func (e *env) coordinator(cfg events.CoordinatorConfig) *events.Coordinator {
	e.t.Helper()
	_, js := e.connect()
	c, err := events.NewCoordinator(js, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Start(ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); c.Close() })
	return c
}

// instance starts an Instance on its own connection.
func (e *env) instance(id string, hb time.Duration) (*events.Instance, *fakeLocal, *nats.Conn) {
	e.t.Helper()
	return e.instanceWith(events.InstanceConfig{ID: id, Heartbeat: hb})
}

func (e *env) instanceWith(cfg events.InstanceConfig) (*events.Instance, *fakeLocal, *nats.Conn) {
	e.t.Helper()
	nc, js := e.connect()
	l := newFakeLocal()
	in, err := events.NewInstance(js, l, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { in.Close() })
	return in, l, nc
}

// waitLive waits until c awaits exactly ids.
func waitLive(t testing.TB, c *events.Coordinator, ids ...string) {
	t.Helper()
	slices.Sort(ids)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := c.LiveInstances(); !slices.Equal(got, ids) {
			return fmt.Errorf("live = %v, want %v", got, ids)
		}
		return nil
	})
}

// fakeLocal is an L1 that records what it was told, in order.
type fakeLocal struct {
	mu      sync.Mutex
	reqs    []invalidation.Request
	ops     []string // "inv", "drop", "disable", "enable"
	enabled bool
	fail    bool
	offAt   time.Time // when it was last disabled
	lease   time.Time // the L1 lease it was last given
}

func (l *fakeLocal) SetLocalLease(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lease = until
}

// usableAt reports whether l would serve at t: enabled, within its lease.
func (l *fakeLocal) usableAt(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enabled && (l.lease.IsZero() || t.Before(l.lease))
}

func newFakeLocal() *fakeLocal { return &fakeLocal{enabled: true} }

func (l *fakeLocal) InvalidateLocal(_ context.Context, req invalidation.Request) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return errors.New("l1 broken")
	}
	l.reqs = append(l.reqs, req)
	l.ops = append(l.ops, "inv")
	return nil
}

func (l *fakeLocal) DropLocal(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, "drop")
	return nil
}

func (l *fakeLocal) SetLocalEnabled(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enabled = on
	if on {
		l.ops = append(l.ops, "enable")
	} else {
		l.ops = append(l.ops, "disable")
		l.offAt = time.Now()
	}
}

// hasTag reports whether an invalidation of tenant's tag reached l.
func (l *fakeLocal) hasTag(tenant, tag string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		if r.Tenant == tenant && slices.Contains(r.Tags, tag) {
			return true
		}
	}
	return false
}

func (l *fakeLocal) opsCopy() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// fakeShared is an L2 that records calls and fails for chosen tenants.
type fakeShared struct {
	mu       sync.Mutex
	reqs     []invalidation.Request
	times    map[string][]time.Time // tag → call times
	failFor  map[string]bool        // tenant → fail
	tagCount int
}

func newFakeShared() *fakeShared {
	return &fakeShared{times: map[string][]time.Time{}, failFor: map[string]bool{}}
}

func (s *fakeShared) InvalidateShared(_ context.Context, req invalidation.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tag := range req.Tags {
		s.times[tag] = append(s.times[tag], time.Now())
	}
	if s.failFor[req.Tenant] {
		return errors.New("redis down")
	}
	s.reqs = append(s.reqs, req)
	s.tagCount += len(req.Tags)
	return nil
}

func (s *fakeShared) setFail(tenant string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failFor[tenant] = fail
}

func (s *fakeShared) calls(tag string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times[tag])
}

func (s *fakeShared) tags() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tagCount
}

// memQueue is an in-memory purge queue that counts enqueues per id.
type memQueue struct {
	mu     sync.Mutex
	counts map[string]int
}

func newMemQueue() *memQueue { return &memQueue{counts: map[string]int{}} }

func (q *memQueue) Enqueue(_ context.Context, req invalidation.Request) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.counts[req.ID]++
	return nil
}

func (q *memQueue) count(id string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counts[id]
}

func (q *memQueue) distinct() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.counts)
}

// streamQueue is a durable purge queue on a JetStream stream that
// deduplicates on the request id, as the purge package's queue does.
type streamQueue struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	mem    *memQueue // every stored call, duplicates included
}

func newStreamQueue(t testing.TB, js jetstream.JetStream) *streamQueue {
	t.Helper()
	s, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name: "TEST_PURGES", Subjects: []string{"test.purges"}, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &streamQueue{js: js, stream: s, mem: newMemQueue()}
}

// Enqueue counts in mem only what the stream took.
func (q *streamQueue) Enqueue(ctx context.Context, req invalidation.Request) error {
	_, err := q.js.Publish(ctx, "test.purges", []byte(req.ID), jetstream.WithMsgID(req.ID))
	if err == nil {
		q.mem.Enqueue(ctx, req)
	}
	return err
}

func (q *streamQueue) stored(t testing.TB) uint64 {
	info, err := q.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// memStates records purge states.
type memStates struct {
	mu     sync.Mutex
	states map[string]purge.State // id/target
}

func (s *memStates) SetState(_ context.Context, id, target string, st purge.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		s.states = map[string]purge.State{}
	}
	s.states[id+"/"+target] = st
	return nil
}

func (s *memStates) get(id, target string) purge.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[id+"/"+target]
}

// memAudit records audit entries.
type memAudit struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *memAudit) Record(_ context.Context, e audit.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

func (a *memAudit) find(id, action string) *audit.Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.entries {
		if a.entries[i].ID == id && a.entries[i].Action == action {
			e := a.entries[i]
			return &e
		}
	}
	return nil
}
