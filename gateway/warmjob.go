package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/cachegate/cachegate/invalidation"
)

// MaxWarmURLs bounds the URLs of one on-demand warm job.
const MaxWarmURLs = 100000

// MaxWarmJobs bounds the jobs whose progress is kept; the oldest finished
// one is forgotten first.
const MaxWarmJobs = 64

// ErrBadWarm is wrapped by StartWarm's errors about its input.
var ErrBadWarm = errors.New("bad warm request")

// ErrWarmNotFound is returned for a job id not (or no longer) known.
var ErrWarmNotFound = errors.New("no such warm job")

// WarmProgress is the state of an on-demand warm job.
type WarmProgress struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Total URLs; Done of them were handled (Fetched + Fresh + Skipped +
	// Failed).
	Total   int `json:"total"`
	Done    int `json:"done"`
	Fetched int `json:"fetched"`
	Fresh   int `json:"fresh"`
	// Skipped URLs are on private routes or routes that bypass the cache:
	// never warmed.
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
	// Finished is set once every URL was handled, or the gateway stopped
	// (then Done < Total).
	Finished bool      `json:"finished"`
	Started  time.Time `json:"started"`
	// Failures names up to 20 URLs that failed or were skipped, and why.
	Failures []string `json:"failures,omitempty"`
}

type warmJob struct {
	mu sync.Mutex
	p  WarmProgress
}

type warmJobs struct {
	mu   sync.Mutex
	byID map[string]*warmJob
	ids  []string // in start order
}

func (js *warmJobs) add(j *warmJob) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.byID == nil {
		js.byID = map[string]*warmJob{}
	}
	if len(js.ids) >= MaxWarmJobs {
		// The oldest finished job goes; with none finished, the oldest
		// (it runs on, unfollowed).
		drop := 0
		for i, id := range js.ids {
			j := js.byID[id]
			j.mu.Lock()
			done := j.p.Finished
			j.mu.Unlock()
			if done {
				drop = i
				break
			}
		}
		delete(js.byID, js.ids[drop])
		js.ids = slices.Delete(js.ids, drop, drop+1)
	}
	js.byID[j.p.ID] = j
	js.ids = append(js.ids, j.p.ID)
}

// StartWarm warms urls of tenant in the background, as a client without
// credentials would request them, within the tenant's and the origin's
// warming rates (waiting on them: every URL is warmed, however long
// that takes). Each URL is absolute (http or https; its host is the Host
// requested) and must belong to tenant; an URL on a private route is
// skipped. It returns the job's id; WarmProgress follows it.
func (g *Gateway) StartWarm(ctx context.Context, tenant string, urls []string) (string, error) {
	if err := invalidation.ValidateTenant(tenant); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadWarm, err)
	}
	if len(urls) == 0 || len(urls) > MaxWarmURLs {
		return "", fmt.Errorf("%w: between 1 and %d urls are required, got %d", ErrBadWarm, MaxWarmURLs, len(urls))
	}
	if g.closed.Load() {
		return "", errors.New("gateway: closed")
	}
	w := g.warm
	todo := make([]hotURL, len(urls))
	var errs []error
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%q is not an absolute http(s) URL", raw))
		} else if owner := g.cfg.Policy.Decide(warmProbe(u)).Tenant; owner != tenant {
			errs = append(errs, fmt.Errorf("%q belongs to tenant %q, not %q", raw, owner, tenant))
		} else {
			todo[i] = hotURL{host: u.Host, target: u.RequestURI()}
		}
		if len(errs) == 5 {
			break
		}
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("%w: %w", ErrBadWarm, errors.Join(errs...))
	}
	j := &warmJob{p: WarmProgress{ID: newWarmID(), Tenant: tenant, Total: len(todo), Started: time.Now().UTC()}}
	w.jobs.add(j)
	t := w.tenant(tenant, true)
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		defer func() {
			j.mu.Lock()
			j.p.Finished = true
			j.mu.Unlock()
		}()
		for i, u := range todo {
			if err := w.wait(w.ctx, t); err != nil {
				return
			}
			outcome := w.fetch(w.ctx, tenant, u)
			w.count(outcome)
			j.mu.Lock()
			j.p.Done++
			switch outcome {
			case warmFetched:
				j.p.Fetched++
			case warmFresh:
				j.p.Fresh++
			case warmPrivate:
				j.p.Skipped++
			default:
				j.p.Failed++
			}
			if outcome != warmFetched && outcome != warmFresh && len(j.p.Failures) < 20 {
				j.p.Failures = append(j.p.Failures, urls[i]+": "+outcome)
			}
			j.mu.Unlock()
		}
	}()
	return j.p.ID, nil
}

// WarmProgress returns the state of job id, or ErrWarmNotFound.
func (g *Gateway) WarmProgress(id string) (WarmProgress, error) {
	js := &g.warm.jobs
	js.mu.Lock()
	j := js.byID[id]
	js.mu.Unlock()
	if j == nil {
		return WarmProgress{}, ErrWarmNotFound
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	p := j.p
	p.Failures = append([]string(nil), p.Failures...)
	return p, nil
}

// wait waits for a token of t's limit (nil: none) and of the origin's.
func (w *warmer) wait(ctx context.Context, t *hotTenant) error {
	if t != nil {
		if err := t.lim.Wait(ctx); err != nil {
			return err
		}
	}
	return w.origin.Wait(ctx)
}

// warmProbe is a request for u, for the policy to name its tenant.
func warmProbe(u *url.URL) *http.Request {
	return &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}, RequestURI: u.RequestURI()}
}

func newWarmID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
