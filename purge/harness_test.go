package purge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

const cfToken = "cf-test-token-do-not-log"

// env is a NATS server, the queue and state store on it, an audit log and
// a fake Cloudflare.
type env struct {
	t      testing.TB
	nats   *testenv.NATS
	js     jetstream.JetStream
	states *purge.States
	queue  *purge.Queue
	audit  *audit.Log
	cf     *cloudflarefake.Server
}

func newEnv(t testing.TB, providers ...string) *env {
	t.Helper()
	if len(providers) == 0 {
		providers = []string{"cloudflare"}
	}
	n := testenv.StartNATS(t)
	e := &env{t: t, nats: n, js: connect(t, n.URL)}
	ctx := t.Context()
	var err error
	if e.states, err = purge.OpenStates(ctx, e.js, purge.StatesConfig{}); err != nil {
		t.Fatal(err)
	}
	if e.queue, err = purge.OpenQueue(ctx, e.js, e.states, purge.QueueConfig{Providers: providers}); err != nil {
		t.Fatal(err)
	}
	if e.audit, err = audit.Open(ctx, e.js, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	e.cf = cloudflarefake.New(cfToken)
	t.Cleanup(e.cf.Close)
	return e
}

func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func (e *env) cloudflare(timeout time.Duration) purge.Purger {
	e.t.Helper()
	p, err := cloudflare.New(cloudflare.Config{
		APIToken: cfToken, BaseURL: e.cf.URL(), HTTPClient: &http.Client{Timeout: timeout},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// fastCfg is a dispatcher config for tests: a short window and fast
// retries.
func (e *env) fastCfg(p ...purge.Provider) purge.DispatcherConfig {
	if len(p) == 0 {
		p = []purge.Provider{{Purger: e.cloudflare(5 * time.Second), Zone: "zone-shared"}}
	}
	return purge.DispatcherConfig{
		Providers:   p,
		Hosts:       map[string]string{"acme": "acme.example.com", "berg": "berg.example.com"},
		Window:      50 * time.Millisecond,
		BackoffBase: 10 * time.Millisecond,
		BackoffMax:  50 * time.Millisecond,
		CallTimeout: 2 * time.Second,
		AckWait:     2 * time.Second,
		Auditor:     e.audit,
		Logger:      slog.New(slog.DiscardHandler),
		Registerer:  prometheus.NewRegistry(),
	}
}

// start runs a dispatcher until the returned stop is called (or the test
// ends) and fails the test if Run returns an error.
func (e *env) start(q *purge.Queue, cfg purge.DispatcherConfig) (stop func()) {
	e.t.Helper()
	d, err := purge.NewDispatcher(q, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("dispatcher: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) enqueue(reqs ...invalidation.Request) {
	e.t.Helper()
	for _, r := range reqs {
		if err := e.queue.Enqueue(e.t.Context(), r); err != nil {
			e.t.Fatalf("enqueue %s: %v", r.ID, err)
		}
	}
}

// waitStatus waits until purge id has status at provider.
func (e *env) waitStatus(id, provider string, want purge.Status, timeout time.Duration) purge.State {
	e.t.Helper()
	var got purge.State
	testenv.WaitFor(e.t, timeout, func() error {
		m, err := e.states.Get(e.t.Context(), id)
		if err != nil {
			return err
		}
		got = m[provider]
		if got.Status != want {
			return fmt.Errorf("purge %s at %s is %q (%s), want %q", id, provider, got.Status, got.Detail, want)
		}
		return nil
	})
	return got
}

// queueEmpty waits until the stream holds no message: every purge acked.
func (e *env) queueEmpty(timeout time.Duration) {
	e.t.Helper()
	testenv.WaitFor(e.t, timeout, func() error {
		s, err := e.js.Stream(e.t.Context(), purge.StreamName)
		if err != nil {
			return err
		}
		info, err := s.Info(e.t.Context())
		if err != nil {
			return err
		}
		if info.State.Msgs != 0 {
			return fmt.Errorf("%d purges still in the queue", info.State.Msgs)
		}
		return nil
	})
}

func (e *env) auditActions(id string) map[string]int {
	e.t.Helper()
	entries, err := e.audit.Recent(e.t.Context(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, en := range entries {
		if en.ID == id {
			out[en.Action+"/"+en.Provider]++
		}
	}
	return out
}

func tagReq(id, tenant string, tags ...string) invalidation.Request {
	return invalidation.Request{ID: id, Tenant: tenant, Tags: tags}
}

var errNotYet = errors.New("not yet")
