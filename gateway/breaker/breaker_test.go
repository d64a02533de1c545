package breaker

import (
	"errors"
	"testing"
	"time"
)

// TestProbesOneAtATime: after the cooldown a single call probes; the
// others still fail at once until it succeeds.
func TestProbesOneAtATime(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New("redis", time.Second, nil, func() time.Time { return now })
	if !b.Allow() {
		t.Fatal("closed breaker refused")
	}
	b.Failure(errors.New("boom"))
	if b.Allow() {
		t.Fatal("open breaker allowed a call during the cooldown")
	}
	now = now.Add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the cooldown")
	}
	if b.Allow() {
		t.Fatal("a second probe while the first runs")
	}
	b.Failure(errors.New("still down"))
	if b.Allow() {
		t.Fatal("allowed right after a failed probe")
	}
	now = now.Add(time.Second)
	if !b.Allow() {
		t.Fatal("no probe after the second cooldown")
	}
	b.Abandon()
	if !b.Allow() {
		t.Fatal("no probe after the first was abandoned")
	}
	b.Success()
	if !b.Allow() || !b.Allow() || b.Open() {
		t.Fatal("breaker not closed after a successful probe")
	}
}
