package main

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/cachegate/cachegate/config"
)

// TestPlanMemory: serve's L1 budget is half a GOMEMLIMIT, which it then
// leaves as it is, and an explicit l1.max_bytes wins.
func TestPlanMemory(t *testing.T) {
	prev := debug.SetMemoryLimit(400 << 20)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name         string
		explicit, l1 int64
	}{{"derived", 0, 200 << 20}, {"explicit", 32 << 20, 32 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			f := &config.File{L1: config.L1{MaxBytes: tc.explicit}}
			planMemory(f, log)
			if f.L1.MaxBytes != tc.l1 {
				t.Fatalf("L1 budget %d, want %d", f.L1.MaxBytes, tc.l1)
			}
			if got := debug.SetMemoryLimit(-1); got != 400<<20 {
				t.Fatalf("Go memory limit %d, want GOMEMLIMIT's %d left alone", got, 400<<20)
			}
		})
	}
}
