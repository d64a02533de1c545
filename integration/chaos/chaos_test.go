package chaos_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
)

// fault is one injected failure: inject starts it, recover ends it and
// returns once the system is whole again (processes ready, registry full).
type fault struct {
	name, slug string
	dur        time.Duration
	inject     func()
	recover    func()
}

func faults(t *testing.T, e *env, s settings) []fault {
	nothing := func() {}
	publisher := e.insts[0]           // where the writer publishes
	victim := e.insts[len(e.insts)-1] // never the instance edits are published on
	cdn := func(name, slug string, f cdnFault) fault {
		return fault{name, slug, s.cdnDown,
			func() { e.gate.set(f, s.retryAfter) }, func() { e.gate.set(cdnUp, "") }}
	}
	return []fault{
		{"none (baseline)", "baseline", s.baseline, nothing, nothing},
		{"Redis stopped (SIGSTOP)", "redis-stop", s.redisDown, e.redis.Pause, e.redis.Resume},
		{"NATS stopped, restarted with its store", "nats-stop", s.natsDown, e.nats.Stop,
			func() { e.nats.Start(); e.waitCluster() }},
		// The instance the writer publishes on dies while NATS is away:
		// whatever it answered "durable" must not have lived only in its
		// memory.
		{"NATS stopped; the publishing instance killed (-9) before it returns", "nats-stop-kill", s.natsDown, e.nats.Stop,
			func() { publisher.kill(t); e.nats.Start(); publisher.start(t); e.waitCluster() }},
		{"Redis killed (-9), restarted empty", "redis-kill", s.redisDown, e.redis.Stop, e.redis.Restart},
		{"instance killed (-9), restarted", "instance-kill", s.instanceDown,
			func() { victim.kill(t) }, func() { victim.start(t); e.waitCluster() }},
		{"instance paused (SIGSTOP) past its heartbeat TTL", "instance-pause", s.pause,
			func() { victim.pause(t) }, func() { victim.resume(t); e.waitCluster() }},
		cdn("CDN answers 429 (Retry-After "+s.retryAfter+")", "cdn-429", cdn429),
		cdn("CDN answers 5xx", "cdn-5xx", cdn5xx),
		cdn("CDN answers 200 success:false", "cdn-false", cdnSuccessFalse),
		cdn("CDN hangs", "cdn-hang", cdnHang),
	}
}

// TestChaos injects each fault in turn while readers read every instance
// and a writer edits pages, and fails on any stale read, lost event, or
// CDN tag missing or delivered twice.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes minutes; make test runs it (without -short)")
	}
	s, err := loadSettings()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	e := startEnv(t)
	t.Logf("%s form; processes up after %v; logs in %s", s.form, time.Since(began).Round(time.Millisecond), e.logDir)

	c := &checker{}
	ctx, cancel := context.WithCancel(context.Background())
	readers := c.runReaders(ctx, e, s.readersPerInstance, s.readEvery)
	defer func() { cancel(); readers.Wait() }()

	fs := faults(t, e, s)
	results := make([]*phaseResult, len(fs))
	for i, f := range fs {
		c.phase.Store(int64(i))
		results[i] = &phaseResult{name: f.name, faultFor: f.dur}
		phaseStart := time.Now()
		pool := int((s.before+f.dur+s.recovery)/s.editEvery) + 4
		w := c.startWriter(e, i, f.slug, pool, s.editEvery, s.maxInFlight)
		time.Sleep(s.before) // a steady state to fault, not a synchronisation
		f.inject()
		time.Sleep(f.dur) // the fault's length
		f.recover()
		ended := time.Now()
		time.Sleep(s.recovery)
		w.stop()
		c.awaitVisible(e, i, ended, s.bound, results[i])
		c.awaitCDN(e, i, ended, s.bound, results[i])
		t.Logf("phase %q done in %v", f.name, time.Since(phaseStart).Round(time.Millisecond))
	}
	cancel()
	readers.Wait()

	c.mu.RLock()
	tally(results, c.edits, c.reads, c.pages)
	c.countCDNTwice(e, results)
	c.mu.RUnlock()

	// The L2 reader must have served hits from L2 and (almost) none from
	// L1, or it did not check what it is there for. Its 1-byte L1 still
	// admits an entry now and then, until the cache's eviction runs.
	layers := map[string]int{}
	for _, r := range c.reads {
		if r.inst == l2Reader {
			layers[layerOf(r.cache)]++
		}
	}
	if layers["l2"] == 0 || layers["l1"] > layers["l2"]/100 {
		t.Errorf("instance %d (no L1) served by layer: %v; want L2 hits and hardly any L1 hit", l2Reader, layers)
	}

	report := table(s.form, results)
	t.Logf("\n%s", report)
	if path := os.Getenv("CACHEGATE_CHAOS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Errorf("CACHEGATE_CHAOS_REPORT: %v", err)
		}
	}
	t.Logf("total %v", time.Since(began).Round(time.Second))

	anyFailed := false
	for _, r := range results {
		// A phase with no read or no accepted edit would prove nothing.
		if r.reads == 0 || r.accepted == 0 {
			t.Errorf("%s: %d reads, %d accepted edits: the phase checked nothing", r.name, r.reads, r.accepted)
		}
		for _, cs := range r.publishCases {
			t.Logf("%s: publish failed: %s", r.name, cs)
		}
		if !r.failed() {
			continue
		}
		anyFailed = true
		t.Errorf("%s: %d stale reads, %d events lost, %d CDN tags missing, %d CDN tags twice",
			r.name, r.stale, r.lost, r.cdnMissing, r.cdnTwice)
		for _, cs := range r.staleCases {
			t.Logf("  stale: %s", cs)
		}
		for _, cs := range r.lostCases {
			t.Logf("  lost: %s", cs)
		}
		for _, cs := range r.cdnCases {
			t.Logf("  cdn: %s", cs)
		}
	}
	if anyFailed {
		for _, in := range e.insts {
			t.Logf("%v, its last warnings and errors:\n%s", in, in.tail(25, true))
		}
	}
}

// layerOf names the layer a Cache-Status says a hit came from, or "other".
func layerOf(cacheStatus string) string {
	switch {
	case strings.Contains(cacheStatus, "hit; detail=l1"):
		return "l1"
	case strings.Contains(cacheStatus, "hit; detail=l2"):
		return "l2"
	}
	return "other"
}

// awaitVisible polls every instance until each shows, for every accepted
// edit of the phase, at least that edit's version; an edit still not
// visible everywhere bound after the fault ended (or after its answer, if
// later) is lost. The polls are reads like any other, checked for
// staleness too.
func (c *checker) awaitVisible(e *env, phase int, ended time.Time, bound time.Duration, res *phaseResult) {
	type pending struct {
		ed   edit
		inst int
		last read
	}
	var todo []*pending
	c.mu.RLock()
	for _, ed := range c.edits {
		if ed.phase == phase && ed.outcome.accepted() {
			for inst := range e.insts {
				todo = append(todo, &pending{ed: ed, inst: inst})
			}
		}
	}
	c.mu.RUnlock()
	lost := map[int]bool{}
	for len(todo) > 0 {
		next := todo[:0]
		for _, p := range todo {
			r := c.get(context.Background(), e, p.inst, p.ed.page, 2*time.Second)
			c.addRead(r)
			p.last = r
			if r.ok() && r.version >= p.ed.version {
				continue
			}
			deadline := ended
			if p.ed.returned.After(deadline) {
				deadline = p.ed.returned
			}
			if time.Now().After(deadline.Add(bound)) {
				if !lost[p.ed.page] {
					lost[p.ed.page] = true
					res.lost++
				}
				note(&res.lostCases, "page %s version %d (publish answered %d %q): instance %d still shows version %d (status %d, Cache-Status %q) %v after the fault ended",
					c.page(p.ed.page), p.ed.version, p.ed.status, p.ed.detail, p.inst, r.version, r.status, r.cache, bound)
				continue
			}
			next = append(next, p)
		}
		todo = next
		if len(todo) > 0 {
			time.Sleep(100 * time.Millisecond) // poll interval
		}
	}
}

// cdnTag is the name page id's own tag has at the CDN.
func cdnTag(id string) string { return invalidation.CDNTag(tenant, "page:"+id) }

// confirmedCount counts how often each tag was in a call the CDN confirmed.
func confirmedCount(e *env) map[string]int {
	n := map[string]int{}
	for _, tag := range e.fake.Confirmed()[cdnZone] {
		n[tag]++
	}
	return n
}

// awaitCDN waits until the CDN confirmed the own tag of every accepted
// edit of the phase; a tag not confirmed bound after the fault ended (or
// after its edit's answer, if later) is missing.
func (c *checker) awaitCDN(e *env, phase int, ended time.Time, bound time.Duration, res *phaseResult) {
	c.mu.RLock()
	var want []edit
	deadline := ended
	for _, ed := range c.edits {
		if ed.phase == phase && ed.outcome.accepted() {
			want = append(want, ed)
			if ed.returned.After(deadline) {
				deadline = ed.returned
			}
		}
	}
	c.mu.RUnlock()
	deadline = deadline.Add(bound)
	for {
		got := confirmedCount(e)
		var missing []edit
		for _, ed := range want {
			if got[cdnTag(c.page(ed.page))] == 0 {
				missing = append(missing, ed)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			res.cdnMissing = len(missing)
			for _, ed := range missing {
				note(&res.cdnCases, "tag %s (edit answered %d) never confirmed by the CDN (the gate answered %d calls with a fault so far)",
					cdnTag(c.page(ed.page)), ed.status, e.gate.faultAnswers())
			}
			return
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// countCDNTwice counts, per phase, the edits whose own tag the CDN
// confirmed more than once over the whole run. The caller holds c.mu.
func (c *checker) countCDNTwice(e *env, results []*phaseResult) {
	got := confirmedCount(e)
	for _, ed := range c.edits {
		if ed.version == 0 {
			continue
		}
		if n := got[cdnTag(c.pages[ed.page])]; n > 1 {
			results[ed.phase].cdnTwice++
			note(&results[ed.phase].cdnCases, "tag %s confirmed %d times", cdnTag(c.pages[ed.page]), n)
		}
	}
}
