package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// failFast is how long a call may take while Redis is down.
const failFast = 300 * time.Millisecond

// ops are every call of the store, as the gateway makes them.
func ops(s *Store) map[string]func(ctx context.Context) error {
	e := &gateway.Entry{Status: 200, Body: []byte("v"), Tags: []string{"x"}}
	return map[string]func(ctx context.Context) error{
		"get": func(ctx context.Context) error { _, _, err := s.Get(ctx, "acme", "k"); return err },
		"set": func(ctx context.Context) error { return s.Set(ctx, "acme", "k", e, time.Minute) },
		"delete": func(ctx context.Context) error {
			return s.Delete(ctx, "acme", "k")
		},
		"invalidate tags":   func(ctx context.Context) error { return s.InvalidateTags(ctx, "acme", []string{"x"}) },
		"invalidate tenant": func(ctx context.Context) error { return s.InvalidateTenant(ctx, "acme") },
		"lock": func(ctx context.Context) error {
			f, err := s.Acquire(ctx, "acme", "k", time.Second)
			if f.Acquired {
				f.Release(0, 0)
			}
			return err
		},
	}
}

// wantUnavailableFast runs every op several times and checks each fails
// with gateway.ErrUnavailable within failFast, measured.
func wantUnavailableFast(t *testing.T, s *Store, rounds int) {
	t.Helper()
	ctx := context.Background()
	var slowest time.Duration
	defer func() { t.Logf("slowest call while Redis was down: %v", slowest) }()
	for round := range rounds {
		for name, op := range ops(s) {
			start := time.Now()
			err := op(ctx)
			took := time.Since(start)
			slowest = max(slowest, took)
			if !errors.Is(err, gateway.ErrUnavailable) {
				t.Fatalf("round %d, %s: error %v, want one wrapping gateway.ErrUnavailable", round, name, err)
			}
			if took > failFast {
				t.Fatalf("round %d, %s: took %v while Redis is down, want under %v", round, name, took, failFast)
			}
		}
	}
}

func roundTrip(s *Store) error {
	ctx := context.Background()
	_, g, err := s.Get(ctx, "acme", "rt") // the fill's generation, as the gateway reads it
	if err != nil {
		return err
	}
	e := &gateway.Entry{Status: 200, Body: []byte("back"), Tags: []string{"x"}, FetchGen: g}
	if err := s.Set(ctx, "acme", "rt", e, time.Minute); err != nil {
		return err
	}
	got, _, err := s.Get(ctx, "acme", "rt")
	if err != nil {
		return err
	}
	if got == nil || string(got.Body) != "back" {
		return fmt.Errorf("got %v after a set", got)
	}
	return nil
}

// TestOutageFailsFastAndRecovers: a killed Redis makes every call fail at
// once with ErrUnavailable, and once it is back the store works again with
// nobody intervening.
func TestOutageFailsFastAndRecovers(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store(t, client(t, Config{Addrs: []string{r.Addr}}), Config{Cooldown: 300 * time.Millisecond})
	if err := roundTrip(s); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	wantUnavailableFast(t, s, 5)
	if s.Available() {
		t.Fatal("breaker closed after failures")
	}
	r.Restart()
	testenv.WaitFor(t, 10*time.Second, func() error { return roundTrip(s) })
	if !s.Available() {
		t.Fatal("breaker still open after a successful call")
	}
	// Invalidation works again too, on the restarted (empty) server.
	ctx := context.Background()
	if err := s.InvalidateTags(ctx, "acme", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.Get(ctx, "acme", "rt"); err != nil || got != nil {
		t.Fatalf("after invalidation: %v, %v", got, err)
	}
}

// TestHungRedisFailsFast: a Redis that accepts connections and never
// answers costs one read timeout, then nothing while the breaker is open.
func TestHungRedisFailsFast(t *testing.T) {
	addr := blackhole(t)
	s := store(t, client(t, Config{Addrs: []string{addr}}), Config{Cooldown: time.Minute})
	ctx := context.Background()
	start := time.Now()
	_, _, err := s.Get(ctx, "acme", "k")
	if took := time.Since(start); took > failFast {
		t.Fatalf("first call to a hung Redis took %v, want under %v", took, failFast)
	}
	if !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("error %v, want gateway.ErrUnavailable", err)
	}
	start = time.Now()
	for range 1000 {
		if _, _, err := s.Get(ctx, "acme", "k"); !errors.Is(err, gateway.ErrUnavailable) {
			t.Fatalf("error %v, want gateway.ErrUnavailable", err)
		}
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Fatalf("1000 calls with the breaker open took %v", took)
	}
}
