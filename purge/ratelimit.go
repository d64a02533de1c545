package purge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cachegate/cachegate/cdn"
)

// cloudflarePlan returns Cloudflare's documented rate limit for purges by
// tag, host and prefix on a plan (cdn.Plan): a bucket of Burst refilled at
// PerSecond. No plan is no limit.
func cloudflarePlan(plan string) (RateLimit, bool) {
	p, ok := cdn.CloudflarePlan(plan)
	if plan == "" || !ok {
		return RateLimit{}, false
	}
	return RateLimit{PerSecond: p.PurgesPerSecond, Burst: p.PurgeBurst}, true
}

// RateLimit is a token bucket for one provider account: one token per API
// call.
type RateLimit struct {
	// Plan names a documented Cloudflare plan ("free", "pro", "business",
	// "enterprise"); PerSecond and Burst, when set, override it.
	Plan string
	// PerSecond is the refill rate. Zero with no Plan means no
	// client-side limit: the provider's 429 and Retry-After still apply.
	PerSecond float64
	// Burst is the bucket size; zero means the plan's, or 1.
	Burst int
}

// Validate reports an unknown plan or a negative rate.
func (r RateLimit) Validate() error {
	if _, ok := cloudflarePlan(r.Plan); r.Plan != "" && !ok {
		return fmt.Errorf("purge: unknown rate plan %q (%s)", r.Plan, strings.Join(cdn.PlanNames(), ", "))
	}
	if r.PerSecond < 0 || r.Burst < 0 {
		return fmt.Errorf("purge: negative rate limit %v/s burst %d", r.PerSecond, r.Burst)
	}
	return nil
}

// effective resolves the plan; ok is false when there is no limit.
func (r RateLimit) effective() (perSecond float64, burst int, ok bool) {
	p, _ := cloudflarePlan(r.Plan)
	if r.PerSecond > 0 {
		p.PerSecond = r.PerSecond
	}
	if r.Burst > 0 {
		p.Burst = r.Burst
	}
	if p.PerSecond <= 0 {
		return 0, 0, false
	}
	return p.PerSecond, max(p.Burst, 1), true
}

// account is the rate state of one provider account, shared by the
// providers configured with the same Account: the token bucket and the
// time until which the provider asked us to wait (429 Retry-After).
type account struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	until time.Time
}

func newAccount(r RateLimit) *account {
	perSecond, burst, ok := r.effective()
	if !ok {
		return &account{lim: rate.NewLimiter(rate.Inf, 0)}
	}
	return &account{lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// pause makes every call on the account wait until d from now.
func (a *account) pause(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := time.Now().Add(d); t.After(a.until) {
		a.until = t
	}
}

// wait blocks until the provider's Retry-After has passed and a token is
// available.
func (a *account) wait(ctx context.Context) error {
	for {
		a.mu.Lock()
		d := time.Until(a.until)
		a.mu.Unlock()
		if d <= 0 {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return a.lim.Wait(ctx)
}
