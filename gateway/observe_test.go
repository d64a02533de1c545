package gateway

import (
	"testing"
	"time"
)

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{100: "1xx", 200: "2xx", 204: "2xx", 304: "3xx", 404: "4xx", 599: "5xx", 600: "other", 0: "other"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestAccessLogSampling: a sample of 0.2 keeps about a fifth of the
// requests, and every server error.
func TestAccessLogSampling(t *testing.T) {
	g := &Gateway{cfg: Config{AccessLogSample: 0.2}}
	kept := 0
	for range 10000 {
		if g.sampled(200) {
			kept++
		}
		if !g.sampled(503) {
			t.Fatal("a server error was not logged")
		}
	}
	// 10,000 draws at p=0.2: 2,000 ± 40 (one standard deviation); the bounds
	// are over 10 deviations away.
	if kept < 1500 || kept > 2500 {
		t.Errorf("kept %d of 10000 at a sample of 0.2", kept)
	}
	if all := (&Gateway{cfg: Config{AccessLogSample: 1}}); !all.sampled(200) {
		t.Error("a sample of 1 dropped a request")
	}
}

// A request's arrival stands for the clock once, on the wall clock only:
// a second judgement in the same request (a shell's second pass) and a
// request without one (a fragment, a refetch) read the clock.
func TestRequestNowTakesArrivalOnce(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	arrival := clock.Add(-time.Second)
	for _, tt := range []struct {
		name      string
		wallClock bool
		obs       *observation
		want      []time.Time
	}{
		{"arrival, then the clock", true, &observation{arrival: arrival}, []time.Time{arrival, clock}},
		{"no observation", true, nil, []time.Time{clock}},
		{"not timed", true, &observation{}, []time.Time{clock}},
		{"test clock", false, &observation{arrival: arrival}, []time.Time{clock, clock}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &Gateway{now: func() time.Time { return clock }, wallClock: tt.wallClock}
			x := &exchange{obs: tt.obs}
			for i, want := range tt.want {
				if got := g.requestNow(x); !got.Equal(want) {
					t.Errorf("call %d: %v, want %v", i, got, want)
				}
			}
		})
	}
}
