package gateway

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// The TTL rule, case by case: nothing observed, covered by events, a route
// read all the time (fraction of the interval), one read rarely (raised
// within the staleness target), and the clamps.
func TestDecideAutoTTL(t *testing.T) {
	cfg := policy.AutoTTL{Min: time.Minute, Max: 24 * time.Hour, Fraction: 0.25}
	cases := []struct {
		name     string
		ev       autoEvidence
		min, max time.Duration // the TTL's range
		covered  bool
		reason   []string
	}{
		{"nothing observed", autoEvidence{}, time.Minute, time.Minute, false,
			[]string{"nothing observed yet: TTL at the minimum 1m"}},
		{"covered by events", autoEvidence{life: 12 * time.Minute, events: 3}, 24 * time.Hour, 24 * time.Hour, true,
			[]string{"changes about every 4m, each announced by an invalidation event (3 so far)", "TTL at the maximum 24h"}},
		{"read all the time", autoEvidence{life: 12 * time.Minute, revalidations: 3, changes: 2, events: 1, readEvery: time.Second},
			time.Minute, time.Minute, false,
			[]string{"changes about every 4m (3 in 12m of observed life: 2 found by revalidation, 1 by invalidation event); TTL 1m = 25% of that"}},
		{"read rate not known yet", autoEvidence{life: 12 * time.Minute, revalidations: 3, changes: 3},
			time.Minute, time.Minute, false, []string{"TTL 1m = 25% of that"}},
		// r = 1/15m, I = 4m: h(T/15m)·p(T/4m) reaches p(0.25) = 11.5% near 6m.
		{"read rarely", autoEvidence{life: 12 * time.Minute, revalidations: 3, changes: 3, readEvery: 15 * time.Minute},
			5 * time.Minute, 7 * time.Minute, false,
			[]string{"raised to", "each URL is read about every 15m", "at the 11.5% target"}},
		{"no change yet", autoEvidence{life: 2 * time.Hour, revalidations: 4},
			30 * time.Minute, 30 * time.Minute, false,
			[]string{"no change in 4 revalidations over 2h of observed life", "TTL 30m = 25% of that"}},
		{"below the minimum", autoEvidence{life: 40 * time.Second, revalidations: 2, changes: 2},
			time.Minute, time.Minute, false, []string{"raised to the minimum 1m"}},
		{"above the maximum", autoEvidence{life: 200 * time.Hour, revalidations: 2},
			24 * time.Hour, 24 * time.Hour, false, []string{"capped at the maximum 24h"}},
		{"an uncovered change ends coverage", autoEvidence{life: 12 * time.Minute, revalidations: 1, changes: 1, events: 2},
			time.Minute, time.Minute, false, []string{"1 found by revalidation, 2 by invalidation event"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := decideAutoTTL(c.ev, cfg)
			t.Log(d.ttl, d.reason)
			if d.ttl < c.min || d.ttl > c.max || d.covered != c.covered {
				t.Fatalf("TTL %v covered %v, want [%v, %v] covered %v (%s)", d.ttl, d.covered, c.min, c.max, c.covered, d.reason)
			}
			for _, r := range c.reason {
				if !strings.Contains(d.reason, r) {
					t.Fatalf("reason %q lacks %q", d.reason, r)
				}
			}
		})
	}
}

// A rarely read route's raised TTL meets the staleness target, and no
// longer TTL would.
func TestRarelyReadMeetsTheTarget(t *testing.T) {
	cfg := policy.AutoTTL{Min: time.Second, Max: 24 * time.Hour, Fraction: 0.25}.WithDefaults()
	for _, readEvery := range []time.Duration{time.Minute, 15 * time.Minute, time.Hour} {
		interval := 4 * time.Minute
		ttl := rarelyRead(readEvery, interval, cfg, time.Minute)
		r, i, target := 1/readEvery.Seconds(), interval.Seconds(), staleShare(0.25)
		share := func(t time.Duration) float64 { return hitShare(r*t.Seconds()) * staleShare(t.Seconds()/i) }
		if share(ttl) > target+1e-3 || share(ttl+5*time.Second) <= target {
			t.Fatalf("read every %v: TTL %v gives %.4f, +5s gives %.4f; target %.4f", readEvery, ttl, share(ttl), share(ttl+5*time.Second), target)
		}
	}
}

// The read-rate estimate undoes URLs read once: x / (1 − e^(−x)) = k.
func TestReadsPerURL(t *testing.T) {
	for _, x := range []float64{0.01, 0.5, 1, 3, 40} {
		k := x / -math.Expm1(-x)
		if got := readsPerURL(k); math.Abs(got-x) > 1e-6*max(1, x) {
			t.Fatalf("readsPerURL(%v) = %v, want %v", k, got, x)
		}
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4 * time.Minute: "4m", 90 * time.Minute: "1h30m", 45 * time.Second: "45s",
		24 * time.Hour: "24h", 61 * time.Second: "1m1s", 1500 * time.Millisecond: "2s",
	} {
		if got := words(d); got != want {
			t.Errorf("words(%v) = %q, want %q", d, got, want)
		}
	}
}
