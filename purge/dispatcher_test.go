package purge_test

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/cachegate/cachegate/purge/fastly"
	"github.com/cachegate/cachegate/purge/fastly/fastlyfake"
	"github.com/cachegate/cachegate/tagging"
)

// enqueueTags enqueues n tags as requests of per tags each, from 16
// goroutines, and returns when all are durable.
func enqueueTags(t testing.TB, q *purge.Queue, prefix string, n, per int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	reqs := make(chan invalidation.Request)
	for range 16 {
		wg.Go(func() {
			for r := range reqs {
				if err := q.Enqueue(t.Context(), r); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := 0; i < n; i += per {
		r := invalidation.Request{ID: fmt.Sprintf("%s-%d", prefix, i), Tenant: "acme"}
		for k := i; k < min(i+per, n); k++ {
			r.Tags = append(r.Tags, fmt.Sprintf("item:%d", k))
		}
		reqs <- r
	}
	close(reqs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// bucketsOf is the number of distinct fallback buckets of the tags
// item:0..item:n-1 that enqueueTags sends.
func bucketsOf(tenant string, n int) int {
	seen := map[string]bool{}
	for k := range n {
		seen[tagging.FallbackTag(fmt.Sprintf("item:%d", k))] = true
	}
	return len(seen)
}

func TestBatchingTenThousandTags(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg()
	// All 10,000 are queued before the dispatcher starts; a window wide
	// enough for the consumer to deliver them all (slow under -race)
	// makes them one round.
	cfg.Window = 3 * time.Second
	const n = 10000
	start := time.Now()
	enqueueTags(t, e.queue, "b", n, 10)
	arrival := time.Since(start)
	e.start(e.queue, cfg)
	e.queueEmpty(20 * time.Second)

	calls := e.cf.Calls()
	got := map[string]bool{}
	for _, c := range calls {
		if c.Zone != "zone-shared" || c.Kind != "tags" || c.Status != http.StatusOK {
			t.Fatalf("unexpected call %+v", c)
		}
		for _, tag := range c.Items {
			got[tag] = true
		}
	}
	// Each tag also purges its fallback bucket (one of 64 per tenant).
	buckets := bucketsOf("acme", n)
	if len(got) != n+buckets {
		t.Fatalf("%d distinct tags purged, want %d and %d buckets", len(got), n, buckets)
	}
	for k := range n {
		tag := fmt.Sprintf("item:%d", k)
		if !got["acme:"+tag] || !got["acme:"+tagging.FallbackTag(tag)] {
			t.Fatalf("tag %s or its bucket not purged", tag)
		}
	}
	limit := int(math.Ceil(float64(n+buckets) / 100.0))
	if len(calls) != limit {
		t.Errorf("%d API calls for %d tags (arrived in %v, all queued before the dispatcher started), want %d", len(calls), n, arrival, limit)
	}
	st := e.waitStatus("b-9990", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	if st.Attempts != 1 {
		t.Errorf("attempts %d, want 1", st.Attempts)
	}
}

// TestBatchingWhileArriving sends 10,000 tags while the dispatcher runs:
// each coalescing round may end in one partly filled call.
func TestBatchingWhileArriving(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg()
	cfg.Window = 300 * time.Millisecond
	e.start(e.queue, cfg)
	const n = 10000
	start := time.Now()
	enqueueTags(t, e.queue, "w", n, 10)
	arrival := time.Since(start)
	e.queueEmpty(20 * time.Second)
	calls := e.cf.Calls()
	rounds := int(arrival/cfg.Window) + 2
	if limit := int(math.Ceil(float64(n+tagging.FallbackBuckets)/100.0)) + rounds; len(calls) > limit {
		t.Errorf("%d API calls for %d tags arriving in %v, want at most %d (one partial call per round)", len(calls), n, arrival, limit)
	}
	t.Logf("%d tags arriving in %v: %d calls", n, arrival, len(calls))
}

// checkRate fails t if the call times ever exceed a token bucket of burst
// refilled at perSecond: any k consecutive calls must span at least
// (k-burst)/perSecond. One token of slack absorbs loopback jitter.
func checkRate(t *testing.T, times []time.Time, perSecond float64, burst int) {
	t.Helper()
	for i := range times {
		for j := i + burst + 1; j < len(times); j++ {
			k := j - i + 1
			minSpan := time.Duration(float64(k-burst-1) / perSecond * float64(time.Second))
			if span := times[j].Sub(times[i]); span < minSpan {
				t.Fatalf("calls %d..%d (%d calls) within %v, bucket allows no less than %v", i, j, k, span, minSpan)
			}
		}
	}
}

func TestRateLimitNeverExceeded(t *testing.T) {
	e := newEnv(t)
	const perSecond, burst = 40, 5
	cfg := e.fastCfg(purge.Provider{
		Purger: e.cloudflare(5 * time.Second), Zone: "z",
		Limits: purge.Limits{TagsPerCall: 10},
		Rate:   purge.RateLimit{Plan: "enterprise", PerSecond: perSecond, Burst: burst},
	})
	enqueueTags(t, e.queue, "r", 600, 10) // 67 calls with the buckets: about 1.5 s at 40/s after a burst of 5
	want := int(math.Ceil(float64(600+bucketsOf("acme", 600)) / 10))
	start := time.Now()
	e.start(e.queue, cfg)
	e.queueEmpty(20 * time.Second)
	calls := e.cf.Calls()
	if len(calls) != want {
		t.Fatalf("%d calls, want %d", len(calls), want)
	}
	times := make([]time.Time, len(calls))
	for i, c := range calls {
		times[i] = c.Time
	}
	checkRate(t, times, perSecond, burst)
	if el := time.Since(start); el < time.Duration(float64(want-burst-1)/perSecond*float64(time.Second)) {
		t.Errorf("%d calls in %v: faster than the bucket allows", want, el)
	}
}

func TestRetryAfterStormIsHonoured(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg()
	e.cf.Fail(
		cloudflarefake.Fault{Status: 429, RetryAfter: "1", Code: 971, Message: "Please wait and consider throttling your request speed"},
		cloudflarefake.Fault{Status: 429, RetryAfter: "1", Code: 971, Message: "Please wait and consider throttling your request speed"},
	)
	e.enqueue(tagReq("storm", "acme", "company:acme"))
	e.start(e.queue, cfg)
	st := e.waitStatus("storm", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	calls := e.cf.Calls()
	if len(calls) != 3 || st.Attempts != 3 {
		t.Fatalf("%d calls, %d attempts; want 3", len(calls), st.Attempts)
	}
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].Time.Sub(calls[i-1].Time); gap < 950*time.Millisecond {
			t.Errorf("call %d came %v after a 429 with Retry-After: 1", i, gap)
		}
	}
}

func TestTemporaryFailuresThenSuccess(t *testing.T) {
	tests := []struct {
		name   string
		faults []cloudflarefake.Fault
	}{
		{"5xx", []cloudflarefake.Fault{{Status: 500, Code: 10000, Message: "Internal error"}, {Status: 502, HTMLBody: true}}},
		{"timeout", []cloudflarefake.Fault{{Hang: true}}},
		{"success false", []cloudflarefake.Fault{{Status: 200, Code: 1134, Message: "purge backend unavailable"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.fastCfg()
			cfg.CallTimeout = 300 * time.Millisecond
			e.cf.Fail(tt.faults...)
			e.enqueue(tagReq("p", "acme", "company:acme"))
			e.start(e.queue, cfg)
			st := e.waitStatus("p", "cloudflare", purge.StatusConfirmed, 10*time.Second)
			if st.Attempts != len(tt.faults)+1 {
				t.Errorf("attempts %d, want %d", st.Attempts, len(tt.faults)+1)
			}
			if got := e.cf.Confirmed()["zone-shared"]; !slices.Equal(got, tagging.CDNPurgeTags("acme", []string{"company:acme"})) {
				t.Errorf("confirmed tags %v", got)
			}
			e.queueEmpty(5 * time.Second)
		})
	}
}

func TestFailedPurgeIsKeptAndRetryable(t *testing.T) {
	tests := []struct {
		name     string
		faults   []cloudflarefake.Fault
		attempts int
		reason   string
	}{
		{"forbidden", []cloudflarefake.Fault{{Status: 403, Code: 10000, Message: "Authentication error"}}, 1, "HTTP 403"},
		{"permanent", []cloudflarefake.Fault{{Status: 400, Code: 1012, Message: "Request must contain one of"}}, 1, "HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.cf.Fail(tt.faults...)
			e.enqueue(tagReq("f", "acme", "company:acme"))
			e.start(e.queue, e.fastCfg())
			st := e.waitStatus("f", "cloudflare", purge.StatusFailed, 10*time.Second)
			if st.Attempts != tt.attempts || !strings.Contains(st.Detail, tt.reason) {
				t.Errorf("failed state %+v, want %d attempts and %q", st, tt.attempts, tt.reason)
			}
			e.queueEmpty(5 * time.Second) // recorded durably, so acked
			fails, err := e.states.Failed(t.Context(), "")
			if err != nil || len(fails) != 1 || fails[0].ID != "f" || fails[0].Request.Tags[0] != "company:acme" {
				t.Fatalf("Failed() = %+v, %v", fails, err)
			}
			if a := e.auditActions("f"); a["purge.sent/cloudflare"] != 1 || a["purge.failed/cloudflare"] != 1 {
				t.Errorf("audit %v", a)
			}

			if err := e.queue.RetryFailed(t.Context(), "f"); err != nil {
				t.Fatal(err)
			}
			e.waitStatus("f", "cloudflare", purge.StatusConfirmed, 10*time.Second)
			if fails, _ := e.states.Failed(t.Context(), ""); len(fails) != 0 {
				t.Errorf("still failed after a successful retry: %+v", fails)
			}
			if err := e.queue.RetryFailed(t.Context(), "f"); err == nil {
				t.Error("RetryFailed of a purge that no longer failed succeeded")
			}
			if a := e.auditActions("f"); a["purge.confirmed/cloudflare"] != 1 {
				t.Errorf("audit %v", a)
			}
		})
	}
}

func repeat(f cloudflarefake.Fault, n int) []cloudflarefake.Fault {
	out := make([]cloudflarefake.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestCrashBetweenDequeueAndSend stops a dispatcher, as a crash would
// (its connection gone, nothing acked), while its call hangs at the
// provider; another dispatcher delivers the purge.
func TestCrashBetweenDequeueAndSend(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	defer close(block)
	e.cf.Fail(cloudflarefake.Fault{Block: block})

	crashJS := connect(t, e.nats.URL)
	crashStates, err := purge.OpenStates(t.Context(), crashJS, purge.StatesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	crashQueue, err := purge.OpenQueue(t.Context(), crashJS, crashStates, purge.QueueConfig{Providers: []string{"cloudflare"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.fastCfg()
	cfg.AckWait = time.Second
	stop := e.start(crashQueue, cfg)
	e.enqueue(tagReq("c1", "acme", "company:acme"), tagReq("c2", "berg", "company:berg"))
	e.waitStatus("c1", "cloudflare", purge.StatusSent, 5*time.Second)
	crashJS.Conn().Close() // the process dies: no ack, no nak
	stop()

	cfg.Registerer = nil
	e.start(e.queue, cfg)
	e.waitStatus("c1", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	e.waitStatus("c2", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	e.queueEmpty(5 * time.Second)
	got := map[string]bool{}
	for _, tag := range e.cf.Confirmed()["zone-shared"] {
		got[tag] = true
	}
	if !got["acme:company:acme"] || !got["berg:company:berg"] {
		t.Fatalf("confirmed %v", got)
	}
}

// TestSlowProviderDoesNotBlockOthers holds Cloudflare's answer while
// Fastly confirms; both end confirmed and the message is acked once.
// fastlyPurger is a Fastly purger on a fake Fastly API.
func fastlyPurger(t *testing.T) (*fastlyfake.Server, *fastly.Purger) {
	t.Helper()
	fs := fastlyfake.New("fastly-token")
	t.Cleanup(fs.Close)
	fp, err := fastly.New(fastly.Config{APIToken: "fastly-token", BaseURL: fs.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return fs, fp
}

func TestSlowProviderDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, "cloudflare", "fastly")
	fs, fp := fastlyPurger(t)
	block := make(chan struct{})
	e.cf.Fail(cloudflarefake.Fault{Block: block})
	cfg := e.fastCfg(
		purge.Provider{Purger: e.cloudflare(10 * time.Second), Zone: "zone-shared"},
		purge.Provider{Purger: fp, Zone: "service-1", Soft: true},
	)
	cfg.CallTimeout = 10 * time.Second
	e.start(e.queue, cfg)
	e.enqueue(tagReq("s", "acme", "company:acme", "gallery:acme"))
	e.waitStatus("s", "fastly", purge.StatusConfirmed, 5*time.Second)
	if st, _ := e.states.Get(t.Context(), "s"); st["cloudflare"].Status != purge.StatusSent {
		t.Fatalf("cloudflare state %+v while its call hangs, want sent", st["cloudflare"])
	}
	close(block)
	e.waitStatus("s", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	e.queueEmpty(5 * time.Second)
	calls := fs.Calls()
	if len(calls) != 1 || calls[0].Kind != "keys" || !calls[0].Soft || calls[0].Service != "service-1" ||
		!slices.Equal(calls[0].Keys, tagging.CDNPurgeTags("acme", []string{"company:acme", "gallery:acme"})) {
		t.Fatalf("fastly calls %+v", calls)
	}
	a := e.auditActions("s")
	for _, want := range []string{"purge.sent/fastly", "purge.confirmed/fastly", "purge.sent/cloudflare", "purge.confirmed/cloudflare"} {
		if a[want] != 1 {
			t.Errorf("audit %s: %d lines, want 1 (all: %v)", want, a[want], a)
		}
	}
}

// TestStatesPerProviderAndLayer: the coordinator's layer states and the
// providers' sit side by side under one id.
func TestStatesPerProviderAndLayer(t *testing.T) {
	e := newEnv(t)
	e.enqueue(tagReq("all", "acme", "company:acme"))
	for _, l := range []string{purge.TargetL1, purge.TargetL2} {
		if err := e.states.SetState(t.Context(), "all", l, purge.State{Status: purge.StatusApplied}); err != nil {
			t.Fatal(err)
		}
	}
	e.start(e.queue, e.fastCfg())
	e.waitStatus("all", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	testenv.WaitFor(t, 2*time.Second, func() error {
		st, err := e.states.Get(t.Context(), "all")
		if err != nil {
			return err
		}
		if len(st) != 3 || st["l1"].Status != purge.StatusApplied || st["l2"].Status != purge.StatusApplied {
			return fmt.Errorf("states %+v", st)
		}
		return nil
	})
	// A replay of the enqueue (coordinator crash) never moves it back.
	e.enqueue(tagReq("all", "acme", "company:acme"))
	if st, _ := e.states.Get(t.Context(), "all"); st["cloudflare"].Status != purge.StatusConfirmed {
		t.Fatalf("replayed enqueue changed the state to %+v", st["cloudflare"])
	}
}

// TestForeignMessagesAndUnknownProviders: a message that is not a purge is
// terminated instead of redelivered forever, and a purge for a provider
// this instance does not have fails there visibly.
func TestForeignMessagesAndUnknownProviders(t *testing.T) {
	e := newEnv(t, "cloudflare", "akamai")
	if _, err := e.js.Publish(t.Context(), purge.Subject, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	e.enqueue(tagReq("u", "acme", "company:acme"))
	e.start(e.queue, e.fastCfg())
	e.waitStatus("u", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	st := e.waitStatus("u", "akamai", purge.StatusFailed, 5*time.Second)
	if !strings.Contains(st.Detail, "not configured") {
		t.Errorf("akamai state %+v", st)
	}
	e.queueEmpty(5 * time.Second)
}
