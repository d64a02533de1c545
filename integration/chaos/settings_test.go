package chaos_test

import (
	"fmt"
	"os"
	"time"
)

// settings are the durations and load of one form of the suite.
type settings struct {
	form string
	// baseline is the fault-free first phase.
	baseline time.Duration
	// before is the steady state at the start of each phase, recovery the
	// time the writer keeps editing after the fault ended.
	before, recovery time.Duration
	// How long each fault lasts. redisDown is longer than the
	// coordinator's retry budget (about 13 s) in both forms, and pause
	// longer than the heartbeat TTL (3 s). In the long form natsDown
	// outlasts the 30 s that a ?wait=1 publish waits, so that some
	// answer 504 "durable" while NATS is still away.
	redisDown, natsDown, instanceDown, pause, cdnDown time.Duration
	// retryAfter is what the CDN's 429 answers carry.
	retryAfter string
	// bound is how long after a fault ends every accepted edit must be
	// visible on every instance and its tag confirmed by the CDN.
	bound time.Duration
	// A new page is edited every editEvery, with at most maxInFlight
	// edits awaiting their answer.
	editEvery   time.Duration
	maxInFlight int
	// readersPerInstance each read a page every readEvery.
	readersPerInstance int
	readEvery          time.Duration
}

// loadSettings reads CACHEGATE_CHAOS: empty or "short" (what go test
// ./... runs), or "long" (make chaos).
func loadSettings() (settings, error) {
	short := settings{
		form: "short", baseline: 3 * time.Second, before: time.Second, recovery: 2 * time.Second,
		redisDown: 15 * time.Second, natsDown: 6 * time.Second, instanceDown: 3 * time.Second,
		pause: 5 * time.Second, cdnDown: 4 * time.Second, retryAfter: "1",
		bound: 30 * time.Second, editEvery: 250 * time.Millisecond, maxInFlight: 8,
		readersPerInstance: 2, readEvery: 20 * time.Millisecond,
	}
	switch v := os.Getenv("CACHEGATE_CHAOS"); v {
	case "", "short":
		return short, nil
	case "long":
		return settings{
			form: "long", baseline: 30 * time.Second, before: 5 * time.Second, recovery: 15 * time.Second,
			redisDown: 30 * time.Second, natsDown: 40 * time.Second, instanceDown: 30 * time.Second,
			pause: 30 * time.Second, cdnDown: 3 * time.Minute, retryAfter: "5",
			bound: 2 * time.Minute, editEvery: 500 * time.Millisecond, maxInFlight: 16,
			readersPerInstance: 2, readEvery: 20 * time.Millisecond,
		}, nil
	default:
		return settings{}, fmt.Errorf("CACHEGATE_CHAOS=%q: use short (the default) or long", v)
	}
}
