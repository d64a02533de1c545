package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
)

const testToken = "test-admin-token-0123456789"

// fakePurger keeps purges in memory. Its states advance only when the
// test says so (advance), so tests see every stage.
type fakePurger struct {
	mu      sync.Mutex
	n       int
	reqs    []invalidation.Request
	actors  []string
	states  map[string]map[string]purge.State
	applied chan struct{} // closed to let waiting purges return; nil = at once
	err     error
}

func newFakePurger() *fakePurger {
	return &fakePurger{states: map[string]map[string]purge.State{}}
}

func (p *fakePurger) Purge(ctx context.Context, req invalidation.Request, wait bool, actor string) (string, error) {
	p.mu.Lock()
	if p.err != nil {
		defer p.mu.Unlock()
		return "", p.err
	}
	p.n++
	id := req.ID
	if id == "" {
		id = fmt.Sprintf("p%d", p.n)
	}
	p.reqs = append(p.reqs, req)
	p.actors = append(p.actors, actor)
	now := time.Now()
	p.states[id] = map[string]purge.State{
		purge.TargetL1: {Status: purge.StatusQueued, Updated: now},
		"cloudflare":   {Status: purge.StatusQueued, Updated: now},
	}
	applied := p.applied
	p.mu.Unlock()
	if wait && applied != nil {
		select {
		case <-applied:
		case <-ctx.Done():
			return id, fmt.Errorf("purge %s: %w", id, ErrTimeout)
		}
	}
	return id, nil
}

func (p *fakePurger) PurgeState(ctx context.Context, id string) (map[string]purge.State, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.states[id]
	if !ok {
		return nil, fmt.Errorf("purge %q: %w", id, ErrNotFound)
	}
	out := make(map[string]purge.State, len(st))
	for k, v := range st {
		out[k] = v
	}
	return out, nil
}

// advance sets the state of purge id at target.
func (p *fakePurger) advance(id, target string, status purge.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.states[id][target] = purge.State{Status: status, Updated: time.Now(), Attempts: 1}
}

func (p *fakePurger) last() (invalidation.Request, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		return invalidation.Request{}, ""
	}
	return p.reqs[len(p.reqs)-1], p.actors[len(p.actors)-1]
}

type fakeEvents struct {
	mu     sync.Mutex
	bodies [][]byte
	block  chan struct{} // waits block on it; nil = apply at once
}

func (e *fakeEvents) SubmitEvent(ctx context.Context, body []byte, wait bool, actor string) (string, error) {
	var ev struct {
		ID     string `json:"id"`
		Tenant string `json:"tenant"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if ev.Tenant == "" {
		return "", fmt.Errorf("%w: event: tenant is required", ErrBadRequest)
	}
	if ev.ID == "" {
		ev.ID = "ev1"
	}
	if ev.Tenant == "nats-down" {
		return ev.ID, fmt.Errorf("%w: NATS connection is RECONNECTING", ErrNotAccepted)
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, body)
	e.mu.Unlock()
	if wait && e.block != nil {
		select {
		case <-e.block:
		case <-ctx.Done():
			return ev.ID, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
	}
	return ev.ID, nil
}

type fakeAudit struct {
	mu      sync.Mutex
	entries []audit.Entry // newest first
}

func (a *fakeAudit) Recent(ctx context.Context, n int) ([]audit.Entry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n > len(a.entries) {
		n = len(a.entries)
	}
	return append([]audit.Entry(nil), a.entries[:n]...), nil
}

func (a *fakeAudit) add(e audit.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append([]audit.Entry{e}, a.entries...)
}

type fakeDeadLetters struct {
	mu      sync.Mutex
	list    []DeadLetter
	retried []uint64
}

func (d *fakeDeadLetters) DeadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]DeadLetter(nil), d.list...), nil
}

func (d *fakeDeadLetters) RetryDeadLetter(ctx context.Context, seq uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, dl := range d.list {
		if dl.Seq == seq {
			d.retried = append(d.retried, seq)
			d.list = append(d.list[:i], d.list[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("dead letter %d: %w", seq, ErrNotFound)
}

// fakeCDN is the failed-purge list and the backlog.
type fakeCDN struct {
	mu      sync.Mutex
	list    []purge.Failure
	retried []string
	backlog purge.Backlog
}

func (c *fakeCDN) FailedPurges(ctx context.Context, n int) ([]purge.Failure, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]purge.Failure(nil), c.list[:min(n, len(c.list))]...), nil
}

func (c *fakeCDN) RetryPurge(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.list[:0]
	for _, f := range c.list {
		if f.ID != id && f.Purge != id {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(c.list) {
		return fmt.Errorf("no failed purge %q: %w", id, ErrNotFound)
	}
	c.list = kept
	c.retried = append(c.retried, id)
	return nil
}

func (c *fakeCDN) DismissPurge(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.list {
		if f.ID == id || f.Purge == id {
			c.list = append(c.list[:i], c.list[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("no failed purge %q: %w", id, ErrNotFound)
}

func (c *fakeCDN) PurgeBacklog(ctx context.Context) (purge.Backlog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.backlog
	b.Failed = len(c.list)
	b.Providers = map[string]purge.ProviderBacklog{}
	for k, v := range c.backlog.Providers {
		b.Providers[k] = v
	}
	return b, nil
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	srv     *Server
	ts      *httptest.Server
	rec     *stats.Recorder
	purger  *fakePurger
	events  *fakeEvents
	audit   *fakeAudit
	dead    *fakeDeadLetters
	cdn     *fakeCDN
	logs    *syncBuffer
	cfg     Config
	cleanup func()
}

// newEnv starts a Server on 127.0.0.1:0 with in-memory dependencies;
// tweak adjusts the Config first.
func newEnv(t testing.TB, tweak func(*Config)) *env {
	t.Helper()
	e := &env{
		rec:    stats.New(),
		purger: newFakePurger(),
		events: &fakeEvents{},
		audit:  &fakeAudit{},
		dead:   &fakeDeadLetters{},
		cdn:    &fakeCDN{},
		logs:   &syncBuffer{},
	}
	e.cfg = Config{
		Token:        testToken,
		Stats:        e.rec,
		Events:       e.events,
		Purges:       e.purger,
		Audit:        e.audit,
		DeadLetters:  e.dead,
		FailedPurges: e.cdn,
		Backlog:      e.cdn,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&e.cfg)
	}
	srv, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func cookie(c *http.Cookie) reqOpt { return func(r *http.Request) { r.AddCookie(c) } }

// do sends a request and returns the status and the body.
func (e *env) do(t testing.TB, method, path, body string, opts ...reqOpt) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

var errBoom = errors.New("redis: connection refused at 10.0.0.7:6379")
