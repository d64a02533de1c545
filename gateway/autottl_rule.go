package gateway

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cachegate/cachegate/policy"
)

// The rule that turns a "ttl: auto" route's evidence into its TTL. It is
// pure (no clock, no lock) so that each case has a table test.
//
// Changes are modelled as a Poisson process of mean interval I per URL.
// An entry read at age a is stale with probability 1 − e^(−a/I); reads
// spread evenly over a TTL T find it stale with probability
//
//	p(T/I) = 1 − (1 − e^(−T/I)) / (T/I)
//
// and, with each URL read at rate r, a share h(rT) = rT / (1 + rT) of reads
// is answered from the cache (a miss opens a TTL in which rT reads hit).
// The share of all reads that may be stale is h(rT)·p(T/I). The route's
// Fraction f sets the target: the share a URL read all the time (h = 1)
// gets at T = f·I, p(f) (11.5% at the default 0.25). A route read often is
// given f·I; one read rarely, whose few hits keep its stale share below
// the target, is given the longest T that still meets it: as many hits as
// the target allows (when that is over a tenth longer). Both are then
// clamped to [Min, Max].
//
// A route whose changes arrive as invalidation events (an event dropped
// its entries, or a soft one preceded the change a revalidation found) and
// whose revalidations found no change the events missed is covered: events
// keep it fresh, so its TTL is Max. A single change found by a revalidation
// that no event announced ends that, until the evidence is halved away.

// autoEvidence is what a route's TTL is decided from.
type autoEvidence struct {
	// life is the summed exposure of the entries observed: their ages at
	// revalidation, and the lives invalidation events ended.
	life          time.Duration
	revalidations int
	// changes were found by revalidations (a 200 with a new validator)
	// that no event announced.
	changes int
	// events are changes announced by invalidation: entries an event
	// dropped, and revalidations after a soft one that found a change.
	events int
	// readEvery is the mean time between two reads of one URL; 0 when not
	// known yet, which is taken as read all the time (the shorter TTL).
	readEvery time.Duration
}

// autoDecision is a route's TTL and what led to it.
type autoDecision struct {
	ttl time.Duration
	// interval is the mean change interval observed; 0 when no change was.
	interval time.Duration
	covered  bool
	reason   string
}

// staleShare is p(x): the chance that a read at an even spread over a TTL
// of x change intervals finds the entry changed at the origin.
func staleShare(x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 1 + math.Expm1(-x)/x
}

// hitShare is h(y): the share of reads answered from the cache when a URL
// gets y reads per TTL.
func hitShare(y float64) float64 { return y / (1 + y) }

// decideAutoTTL is the TTL of a route with evidence ev and bounds cfg.
func decideAutoTTL(ev autoEvidence, cfg policy.AutoTTL) autoDecision {
	cfg = cfg.WithDefaults()
	if ev.revalidations == 0 && ev.events == 0 {
		return autoDecision{ttl: cfg.Min, reason: "nothing observed yet: TTL at the minimum " + words(cfg.Min)}
	}
	if ev.events > 0 && ev.changes == 0 {
		interval := ev.life / time.Duration(ev.events)
		return autoDecision{ttl: cfg.Max, interval: interval, covered: true, reason: fmt.Sprintf(
			"changes about every %s, each announced by an invalidation event (%d so far), and no revalidation found one they missed: events keep it fresh, TTL at the maximum %s",
			words(interval), ev.events, words(cfg.Max))}
	}
	var d autoDecision
	var why strings.Builder
	interval := ev.life
	if n := ev.changes + ev.events; n > 0 {
		interval = ev.life / time.Duration(n)
		d.interval = interval
		fmt.Fprintf(&why, "changes about every %s (%d in %s of observed life: %d found by revalidation, %d by invalidation event)",
			words(interval), n, words(ev.life), ev.changes, ev.events)
	} else {
		fmt.Fprintf(&why, "no change in %d revalidations over %s of observed life: changes less often than that", ev.revalidations, words(ev.life))
	}
	ttl := time.Duration(float64(interval) * cfg.Fraction)
	fmt.Fprintf(&why, "; TTL %s = %s of that", words(ttl), percent(cfg.Fraction))
	if t := rarelyRead(ev.readEvery, interval, cfg, ttl); t > ttl+ttl/10 {
		// A raise under a tenth (a route read often) is not worth its
		// words: such a route keeps Fraction of the interval.
		r, target := 1/ev.readEvery.Seconds(), staleShare(cfg.Fraction)
		fmt.Fprintf(&why, ", raised to %s: each URL is read about every %s, so only %s of reads would hit at %s; %s gives %s hits and keeps the reads that may be stale at the %s target",
			words(t), words(ev.readEvery), percent(hitShare(r*ttl.Seconds())), words(ttl), words(t),
			percent(hitShare(r*t.Seconds())), percent(target))
		ttl = t
	}
	switch {
	case ttl < cfg.Min:
		ttl = cfg.Min
		fmt.Fprintf(&why, ", raised to the minimum %s", words(cfg.Min))
	case ttl > cfg.Max:
		ttl = cfg.Max
		fmt.Fprintf(&why, ", capped at the maximum %s", words(cfg.Max))
	}
	d.ttl, d.reason = ttl, why.String()
	return d
}

// rarelyRead is the longest TTL in [base, cfg.Max] whose share of reads
// that may be stale stays within the target p(Fraction), for URLs read
// every readEvery that change every interval; base when the read rate is
// unknown or already high enough that base is the answer.
func rarelyRead(readEvery, interval time.Duration, cfg policy.AutoTTL, base time.Duration) time.Duration {
	if readEvery <= 0 || interval <= 0 || base <= 0 || base >= cfg.Max {
		return base
	}
	r, i, target := 1/readEvery.Seconds(), interval.Seconds(), staleShare(cfg.Fraction)
	within := func(t float64) bool { return hitShare(r*t)*staleShare(t/i) <= target }
	lo, hi := base.Seconds(), cfg.Max.Seconds()
	if within(hi) {
		return cfg.Max
	}
	// The share grows with t (both factors do): bisect for the boundary.
	for range 64 {
		mid := (lo + hi) / 2
		if within(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return max(base, time.Duration(lo*float64(time.Second)).Round(time.Second))
}

// words is d as a person would say it: whole seconds, no trailing zero
// units ("4m", "1h30m", "45s").
func words(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// percent is x as a percentage of at most one decimal ("25%", "11.5%").
func percent(x float64) string {
	s := fmt.Sprintf("%.1f", x*100)
	return strings.TrimSuffix(s, ".0") + "%"
}
