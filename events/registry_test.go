package events

import (
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestRegistryForgetsLapsedInstances: instances whose key lapsed are not
// live and are forgotten, so dead ids do not pile up across restarts.
func TestRegistryForgetsLapsedInstances(t *testing.T) {
	r := newRegistry(slog.Default())
	now := time.Now()
	r.expires["b"] = now.Add(time.Second)
	r.expires["a"] = now.Add(time.Minute)
	r.expires["dead"] = now.Add(-time.Millisecond)
	if got := r.live(now); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("live %v, want [a b]", got)
	}
	if _, ok := r.expires["dead"]; ok {
		t.Error("a lapsed instance is still remembered")
	}
	if got := r.live(now.Add(2 * time.Second)); !slices.Equal(got, []string{"a"}) || len(r.expires) != 1 {
		t.Errorf("live %v (%d remembered), want [a] alone", got, len(r.expires))
	}
}
