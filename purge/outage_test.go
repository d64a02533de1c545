package purge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

// oldBudget is the attempt budget after which purges used to be marked
// failed; the outages below outlast it.
const oldBudget = 8

// awaitReceived waits until the fake has received at least n calls.
func awaitReceived(t *testing.T, fake *cloudflarefake.Server, n int, timeout time.Duration) {
	t.Helper()
	testenv.WaitFor(t, timeout, func() error {
		if got := fake.Received(); got < n {
			return fmt.Errorf("the fake received %d calls, want %d", got, n)
		}
		return nil
	})
}

// TestOutageLongerThanAnyBudget: a CDN answering 429, 5xx, "success":
// false or nothing at all, for more calls than any budget allowed, delays
// purges but loses none: once it recovers, every tag reaches it, each
// item tag once.
func TestOutageLongerThanAnyBudget(t *testing.T) {
	tests := []struct {
		name  string
		fault cloudflarefake.Fault
	}{
		{"429 with Retry-After", cloudflarefake.Fault{Status: 429, RetryAfter: "0.05", Code: 971, Message: "Please wait and consider throttling your request speed"}},
		{"500", cloudflarefake.Fault{Status: 500, Code: 10000, Message: "Internal error"}},
		{"502 from a proxy", cloudflarefake.Fault{Status: 502, HTMLBody: true}},
		{"success false", cloudflarefake.Fault{Status: 200, Code: 1134, Message: "purge backend unavailable"}},
		{"hanging", cloudflarefake.Fault{Hang: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.fastCfg()
			cfg.CallTimeout = 150 * time.Millisecond
			const n = 100
			enqueueTags(t, e.queue, "o", n, 10)
			e.cf.Down(tt.fault)
			e.start(e.queue, cfg)
			awaitReceived(t, e.cf, 2*oldBudget, 15*time.Second)
			for i := 0; i < n; i += 10 {
				if st, err := e.states.Get(t.Context(), fmt.Sprintf("o-%d", i)); err != nil || st["cloudflare"].Status == purge.StatusFailed || st["cloudflare"].Status == purge.StatusConfirmed {
					t.Fatalf("purge o-%d during the outage: %+v, %v; want queued, sent or retrying", i, st, err)
				}
			}
			e.cf.Up()
			e.queueEmpty(15 * time.Second)
			for i := 0; i < n; i += 10 {
				e.waitStatus(fmt.Sprintf("o-%d", i), "cloudflare", purge.StatusConfirmed, 5*time.Second)
			}
			if fails, err := e.states.Failed(t.Context(), ""); err != nil || len(fails) != 0 {
				t.Fatalf("failed purges after a transient outage: %+v, %v", fails, err)
			}
			sent := map[string]int{}
			for _, c := range e.cf.Calls() {
				if c.Success {
					for _, tag := range c.Items {
						sent[tag]++
					}
				}
			}
			for k := range n {
				tag := fmt.Sprintf("acme:item:%d", k)
				if sent[tag] != 1 {
					t.Errorf("tag %s confirmed %d times, want once", tag, sent[tag])
				}
			}
		})
	}
}

// TestRetryAfterAcrossBatches: after a 429 with Retry-After, no call of
// any batch reaches the account before Retry-After has passed, measured at
// the fake; the outage outlasts the old attempt budget.
func TestRetryAfterAcrossBatches(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg(purge.Provider{
		Purger: e.cloudflare(5 * time.Second), Zone: "z",
		Limits: purge.Limits{TagsPerCall: 1}, // one call per tag: many batches
	})
	const after = 200 * time.Millisecond
	e.cf.Fail(repeat(cloudflarefake.Fault{Status: 429, RetryAfter: "0.2", Code: 971, Message: "throttled"}, oldBudget+2)...)
	e.enqueue(tagReq("ra", "acme", "company:acme", "gallery:acme", "company"))
	e.start(e.queue, cfg)
	// Every fault answered and every tag's call made (3 tags and their
	// fallback buckets), before looking at the gaps.
	awaitReceived(t, e.cf, oldBudget+2+3, 15*time.Second)
	e.queueEmpty(10 * time.Second)
	calls := e.cf.Calls()
	for i := 1; i < len(calls); i++ {
		if calls[i-1].Status != http.StatusTooManyRequests {
			continue
		}
		// A little slack for the clocks of the two sides of loopback.
		if gap := calls[i].Time.Sub(calls[i-1].Time); gap < after-10*time.Millisecond {
			t.Errorf("call %d (%v) came %v after a 429 with Retry-After %v", i, calls[i].Items, gap, after)
		}
	}
	ok := 0
	for _, c := range calls {
		if c.Success {
			ok++
		}
	}
	if ok < 3 {
		t.Errorf("%d confirmed calls, want one per tag (at least 3)", ok)
	}
	e.waitStatus("ra", "cloudflare", purge.StatusConfirmed, 5*time.Second)
}

// TestInvalidRequestFailsVisibly: a request the CDN calls invalid is
// failed at once (no retry can fix it), with the CDN's reason, and
// delivered once retried after the cause is fixed.
func TestInvalidRequestFailsVisibly(t *testing.T) {
	e := newEnv(t)
	e.cf.Down(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	e.enqueue(tagReq("bad", "acme", "company:acme"))
	e.start(e.queue, e.fastCfg())
	st := e.waitStatus("bad", "cloudflare", purge.StatusFailed, 10*time.Second)
	if st.Attempts != 1 || !strings.Contains(st.Detail, "HTTP 400") {
		t.Errorf("failed state %+v, want one attempt and the CDN's reason", st)
	}
	e.queueEmpty(5 * time.Second)
	e.cf.Up()
	if err := e.queue.RetryFailed(t.Context(), "bad"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("bad", "cloudflare", purge.StatusConfirmed, 10*time.Second)
}

// TestZoneOutageDoesNotHoldUpOtherZones: while one zone's call hangs (and
// would be retried for as long as it fails), another zone's purges are
// delivered, those queued with it and those that arrive meanwhile.
func TestZoneOutageDoesNotHoldUpOtherZones(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	e.cf.Fail(cloudflarefake.Fault{Block: block})
	cfg := e.fastCfg(purge.Provider{
		Purger: e.cloudflare(20 * time.Second),
		Zones:  map[string]string{"acme": "zone-acme", "berg": "zone-berg"},
	})
	cfg.CallTimeout = 20 * time.Second
	e.enqueue(tagReq("za", "acme", "company:acme"), tagReq("zb", "berg", "company:berg"))
	e.start(e.queue, cfg)
	var stuck string
	testenv.WaitFor(t, 5*time.Second, func() error {
		a, errA := e.states.Get(t.Context(), "za")
		b, errB := e.states.Get(t.Context(), "zb")
		if errA != nil || errB != nil {
			return fmt.Errorf("%v %v", errA, errB)
		}
		switch {
		case a["cloudflare"].Status == purge.StatusConfirmed && b["cloudflare"].Status == purge.StatusSent:
			stuck = "zb"
		case b["cloudflare"].Status == purge.StatusConfirmed && a["cloudflare"].Status == purge.StatusSent:
			stuck = "za"
		default:
			return fmt.Errorf("za %+v, zb %+v: want one confirmed while the other's zone hangs", a, b)
		}
		return nil
	})
	// A purge that arrives for the healthy zone meanwhile is delivered
	// too, not held until the stuck round ends.
	healthy := "acme"
	if stuck == "za" {
		healthy = "berg"
	}
	e.enqueue(tagReq("later", healthy, "gallery:"+healthy))
	e.waitStatus("later", "cloudflare", purge.StatusConfirmed, 5*time.Second)
	if st, _ := e.states.Get(t.Context(), stuck); st["cloudflare"].Status != purge.StatusSent {
		t.Fatalf("the stuck purge is %+v before its zone answers", st)
	}
	close(block)
	e.waitStatus(stuck, "cloudflare", purge.StatusConfirmed, 5*time.Second)
	e.queueEmpty(5 * time.Second)
}
