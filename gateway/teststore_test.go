package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// TestStore is a minimal layer with the generation semantics of Store, for
// the gateway's tests: a generation counter per tenant, InvalidateTags sets
// inv[tag] = ++gen, and an entry is dead once any of its tags, or the
// tenant floor, is above its FetchGen. Fail makes every call return an
// error wrapping ErrUnavailable (an outage).
type TestStore struct {
	mu      sync.Mutex
	entries map[string]testItem
	tenants map[string]*testTenant
	Fail    atomic.Bool
	Gets    atomic.Int64
}

type testItem struct {
	e       *Entry
	tenant  string
	expires time.Time
}

type testTenant struct {
	gen   uint64
	floor uint64
	inv   map[string]uint64
}

// NewTestStore returns an empty TestStore.
func NewTestStore() *TestStore {
	return &TestStore{entries: map[string]testItem{}, tenants: map[string]*testTenant{}}
}

func (s *TestStore) tenant(name string) *testTenant {
	t := s.tenants[name]
	if t == nil {
		t = &testTenant{inv: map[string]uint64{}}
		s.tenants[name] = t
	}
	return t
}

func (s *TestStore) err() error {
	if s.Fail.Load() {
		return fmt.Errorf("test store down: %w", ErrUnavailable)
	}
	return nil
}

func (s *TestStore) Get(_ context.Context, tenant, key string) (*Entry, uint64, error) {
	s.Gets.Add(1)
	if err := s.err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenant)
	it, ok := s.entries[tenant+"\x00"+key]
	if !ok || time.Now().After(it.expires) || !t.live(it.e) {
		return nil, t.gen, nil
	}
	return it.e, t.gen, nil
}

func (t *testTenant) live(e *Entry) bool {
	if t.floor > e.FetchGen {
		return false
	}
	for _, tag := range e.Tags {
		if t.inv[tag] > e.FetchGen {
			return false
		}
	}
	return true
}

func (s *TestStore) Set(_ context.Context, tenant, key string, e *Entry, ttl time.Duration) error {
	if err := s.err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[tenant+"\x00"+key] = testItem{e: e, tenant: tenant, expires: time.Now().Add(ttl)}
	return nil
}

func (s *TestStore) Delete(_ context.Context, tenant, key string) error {
	if err := s.err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, tenant+"\x00"+key)
	return nil
}

func (s *TestStore) InvalidateTags(_ context.Context, tenant string, tags []string) error {
	if err := s.err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenant)
	t.gen++
	for _, tag := range tags {
		t.inv[tag] = t.gen
	}
	return nil
}

func (s *TestStore) InvalidateTenant(_ context.Context, tenant string) error {
	if err := s.err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenant(tenant)
	t.gen++
	t.floor = t.gen
	return nil
}

func (s *TestStore) Clear(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.entries)
	return nil
}

// TestLock is an in-memory FillLock shared by gateways in one test.
type TestLock struct {
	mu   sync.Mutex
	held map[string]testLockState
}

type testLockState struct {
	until  time.Time
	token  *byte // identifies the holder
	failed int
}

// NewTestLock returns a TestLock.
func NewTestLock() *TestLock { return &TestLock{held: map[string]testLockState{}} }

func (l *TestLock) Acquire(_ context.Context, tenant, key string, ttl time.Duration) (Fill, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := tenant + "\x00" + key
	if st, ok := l.held[k]; ok && time.Now().Before(st.until) {
		return Fill{Failed: st.failed}, nil
	}
	token := new(byte)
	l.held[k] = testLockState{until: time.Now().Add(ttl), token: token}
	return Fill{Acquired: true, Release: func(failed int, hold time.Duration) {
		l.mu.Lock()
		defer l.mu.Unlock()
		st, ok := l.held[k]
		if !ok || st.token != token {
			return
		}
		if failed == 0 || hold <= 0 {
			delete(l.held, k)
			return
		}
		l.held[k] = testLockState{until: time.Now().Add(min(hold, ttl)), failed: failed}
	}, Refresh: func(context.Context) error {
		l.mu.Lock()
		defer l.mu.Unlock()
		st, ok := l.held[k]
		if !ok || st.token != token {
			return fmt.Errorf("lock %q lost", k)
		}
		st.until = time.Now().Add(ttl)
		l.held[k] = st
		return nil
	}}, nil
}

// Waiting is how many requests wait for another's origin fetch.
func Waiting(g *Gateway) int {
	var m dto.Metric
	if err := g.m.waiting.Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetGauge().GetValue())
}

// RefreshesSkipped is how many background refreshes were left to another
// holder of the fill lock.
func RefreshesSkipped(g *Gateway) int {
	var m dto.Metric
	if err := g.m.refreshSkipped.Write(&m); err != nil {
		panic(err)
	}
	return int(m.GetCounter().GetValue())
}

// SetRand replaces the gateway's random source of early refresh.
func SetRand(g *Gateway, rand func() float64) { g.rand = rand }

// Refreshing is how many background refreshes are running.
func Refreshing(g *Gateway) int {
	n := 0
	g.revalidating.Range(func(_, _ any) bool { n++; return true })
	return n
}

// ESIPagesReused is how many pages were answered from a kept assembly.
func ESIPagesReused(g *Gateway) uint64 { return g.esiPages.reused.Load() }

// SetClock replaces the gateway's clock (ages and freshness), so tests can
// age entries without waiting.
func SetClock(g *Gateway, now func() time.Time) { g.now, g.wallClock = now, false }

var (
	_ Store    = (*TestStore)(nil)
	_ Clearer  = (*TestStore)(nil)
	_ FillLock = (*TestLock)(nil)
)
