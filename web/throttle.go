package web

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed-authentication throttling: each client address may fail
// failBurst times at once, then once per failEvery; past that, every
// attempt from it is refused with 429 and Retry-After before its token is
// looked at, so guessing the token costs minutes per dozen tries.
const (
	failBurst = 10
	failEvery = 6 * time.Second
	// maxThrottled bounds the addresses remembered; past it, those whose
	// allowance has refilled are forgotten, and if none has, the oldest.
	maxThrottled = 10000
)

// throttle remembers recent authentication failures per client address.
type throttle struct {
	mu    sync.Mutex
	hosts map[string]*throttled
}

type throttled struct {
	lim  *rate.Limiter
	last time.Time
}

func newThrottle() *throttle { return &throttle{hosts: make(map[string]*throttled)} }

// wait is how long host must wait before its next attempt; 0 if it may
// try now.
func (t *throttle) wait(host string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[host]
	if h == nil {
		return 0
	}
	tokens := h.lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) * float64(failEvery)))
}

// failed records a failed attempt from host.
func (t *throttle) failed(host string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[host]
	if h == nil {
		if len(t.hosts) >= maxThrottled {
			t.prune(now)
		}
		h = &throttled{lim: rate.NewLimiter(rate.Every(failEvery), failBurst)}
		t.hosts[host] = h
	}
	h.last = now
	h.lim.AllowN(now, 1)
}

// prune forgets the addresses whose allowance is full again, or, if none
// is, the one that failed longest ago. t.mu is held.
func (t *throttle) prune(now time.Time) {
	var oldest string
	for host, h := range t.hosts {
		if h.lim.TokensAt(now) >= failBurst {
			delete(t.hosts, host)
			continue
		}
		if oldest == "" || h.last.Before(t.hosts[oldest].last) {
			oldest = host
		}
	}
	if len(t.hosts) >= maxThrottled && oldest != "" {
		delete(t.hosts, oldest)
	}
}
