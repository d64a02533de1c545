package purge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/invalidation"
)

// writeConcurrency bounds the concurrent state and audit writes of one
// worker, so that a round of thousands of purges is recorded in a few
// round trips' time without flooding the server.
const writeConcurrency = 32

// worker delivers purges to one provider. Each provider has its own, so a
// slow or failing provider never holds up the others; within a provider,
// calls go one at a time through the account's token bucket.
type worker struct {
	d     *Dispatcher
	p     Provider
	name  string
	route route
	acct  *account

	// health is whether the provider's last call failed, for /readyz
	// and the backlog metrics.
	health health

	in *inbox
}

func newWorker(d *Dispatcher, p Provider, a *account) *worker {
	lim := p.Purger.Limits()
	o := p.Limits
	if o.TagsPerCall > 0 {
		lim.TagsPerCall = o.TagsPerCall
	}
	if o.URLsPerCall > 0 {
		lim.URLsPerCall = o.URLsPerCall
	}
	if o.PrefixesPerCall > 0 {
		lim.PrefixesPerCall = o.PrefixesPerCall
	}
	if o.HostsPerCall > 0 {
		lim.HostsPerCall = o.HostsPerCall
	}
	if o.MaxTagLength > 0 {
		lim.MaxTagLength = o.MaxTagLength
	}
	return &worker{
		d: d, p: p, name: p.Purger.Name(), acct: a, in: newInbox(),
		route: route{zone: p.Zone, zones: p.Zones, hosts: d.cfg.Hosts, limits: lim, soft: p.Soft},
	}
}

// push queues jobs for the worker. The queue is bounded by the consumer's
// MaxAckPending, since every job in it is an unacked message.
func (w *worker) push(jobs []*job) { w.in.push(jobs) }

type finished struct {
	j *job
	o outcome
}

func (w *worker) run(ctx context.Context) {
	fin := make(chan finished, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		// Outcomes already reached are recorded even while shutting
		// down: a confirmed purge recorded is one fewer duplicate.
		sem := make(chan struct{}, writeConcurrency)
		var fwg sync.WaitGroup
		for f := range fin {
			sem <- struct{}{}
			fwg.Go(func() {
				defer func() { <-sem }()
				w.d.finish(ctx, f.j, w.name, f.o)
			})
		}
		fwg.Wait()
	})
	defer func() {
		close(fin)
		wg.Wait()
	}()
	// Each zone has a lane of its own: a zone whose calls keep failing
	// (retried until they succeed) holds up neither the other zones nor
	// the purges that arrive for them meanwhile. The account's bucket and
	// Retry-After pause still pace every lane.
	lanes := map[string]*inbox{}
	var lwg sync.WaitGroup
	defer lwg.Wait()
	for {
		jobs, ok := w.in.take(ctx)
		if !ok {
			return
		}
		byZone := map[string][]*job{}
		for _, j := range jobs {
			z := w.route.zoneOf(j.m.Request.Tenant)
			byZone[z] = append(byZone[z], j)
		}
		for z, js := range byZone {
			l := lanes[z]
			if l == nil {
				l = newInbox()
				lanes[z] = l
				lwg.Go(func() { w.runLane(ctx, z, l, fin) })
			}
			l.push(js)
		}
	}
}

// runLane delivers one zone's purges, a round at a time: everything queued
// since the last round joins the next, so a zone that fell behind catches
// up in fewer, fuller calls.
func (w *worker) runLane(ctx context.Context, zone string, l *inbox, fin chan<- finished) {
	for {
		jobs, ok := l.take(ctx)
		if !ok {
			return
		}
		start := time.Now()
		w.process(ctx, jobs, fin)
		w.d.log.Debug("purge worker round", "provider", w.name, "zone", zone, "purges", len(jobs), "elapsed", time.Since(start))
	}
}

// process delivers one round and sends each job's outcome to fin as soon
// as all of its batches are done.
func (w *worker) process(ctx context.Context, jobs []*job, fin chan<- finished) {
	reqs := make([]invalidation.Request, len(jobs))
	for i, j := range jobs {
		reqs[i] = j.m.Request
	}
	batches, rejected := plan(reqs, w.route)
	for i, reason := range rejected {
		fin <- finished{jobs[i], outcome{err: fmt.Errorf("%w: %s", ErrPermanent, reason)}}
	}
	pending := make([]int, len(jobs))
	for _, b := range batches {
		for _, i := range b.jobs {
			pending[i]++
		}
	}
	var live []int
	for i := range jobs {
		if _, bad := rejected[i]; !bad {
			live = append(live, i)
		}
	}
	// The sent states are written while the first call is under way; a
	// job's final state waits for them so it is never overwritten.
	sentDone := make(chan struct{})
	go func() {
		defer close(sentDone)
		w.record(ctx, jobs, live, State{Status: StatusSent}, "purge.sent", "sent")
	}()
	waitSent := func() { <-sentDone }
	defer waitSent()

	errs := make([]error, len(jobs))
	attempts := make([]int, len(jobs))
	for _, b := range batches {
		n, err := w.deliver(ctx, b.batch, func(attempt int, err error) {
			waitSent()
			w.record(ctx, jobs, b.jobs, State{Status: StatusRetrying, Detail: err.Error(), Attempts: attempt}, "", "")
		})
		if ctx.Err() != nil {
			return // not acked: redelivered after AckWait
		}
		for _, i := range b.jobs {
			attempts[i] = max(attempts[i], n)
			if err != nil && errs[i] == nil {
				errs[i] = err
			}
			if pending[i]--; pending[i] == 0 {
				waitSent()
				fin <- finished{jobs[i], outcome{err: errs[i], attempts: attempts[i]}}
			}
		}
	}
}

// record writes st (and an audit line when action is set) for the jobs at
// idx, a bounded number at a time. Failures are logged: the final state,
// whose write failure makes the message redeliver, is what counts.
func (w *worker) record(ctx context.Context, jobs []*job, idx []int, st State, action, result string) {
	sem := make(chan struct{}, writeConcurrency)
	var wg sync.WaitGroup
	for _, i := range idx {
		j := jobs[i]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req := j.m.Request
			if err := w.d.states.SetState(ctx, req.ID, w.name, st); err != nil && ctx.Err() == nil {
				w.d.log.Warn("purge state", "id", req.ID, "provider", w.name, "status", st.Status, "err", err)
			}
			if action == "" {
				return
			}
			w.d.m.sent.WithLabelValues(w.name).Inc()
			if w.d.cfg.Auditor == nil {
				return
			}
			err := w.d.cfg.Auditor.Record(ctx, audit.Entry{
				Actor: "purge-dispatcher", Action: action, ID: req.ID, Tenant: req.Tenant,
				Tags: req.Tags, URLs: req.URLs, Prefixes: req.Prefixes, Everything: req.Everything,
				Provider: w.name, Result: result,
			})
			if err != nil && ctx.Err() == nil {
				w.d.log.Warn("purge audit", "id", req.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// deliver sends one batch until the provider confirms it, the error is
// permanent, or ctx ends. A temporary error (5xx, 429, a timeout, a
// refused connection, Cloudflare's "success": false) is retried however
// long it lasts: an attempt budget would turn an ordinary outage into lost
// purges. Only a permanent error (the provider says the request itself is
// wrong, or the credentials are) ends in failed, visible and retryable.
// onRetry runs before each wait for another attempt.
func (w *worker) deliver(ctx context.Context, b Batch, onRetry func(attempt int, err error)) (int, error) {
	cfg := w.d.cfg
	for attempt := 1; ; attempt++ {
		if err := w.acct.wait(ctx); err != nil {
			return attempt - 1, err
		}
		if len(b.Tags) > 0 {
			w.d.m.tagsPerCall.WithLabelValues(w.name).Observe(float64(len(b.Tags)))
		}
		cctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
		err := w.p.Purger.Purge(cctx, b)
		cancel()
		if ctx.Err() != nil {
			w.d.m.calls.WithLabelValues(w.name, outcomeInterrupted).Inc()
			return attempt, ctx.Err()
		}
		var ra *RetryAfterError
		switch {
		case err == nil:
			w.d.m.calls.WithLabelValues(w.name, outcomeOK).Inc()
			w.health.ok(b.Zone)
			w.d.log.Debug("purge call confirmed", "provider", w.name, "zone", b.Zone, "tags", len(b.Tags), "urls", len(b.URLs), "attempt", attempt)
			return attempt, nil
		case errors.Is(err, ErrPermanent):
			w.d.m.calls.WithLabelValues(w.name, outcomePermanent).Inc()
			// The provider answered: it is up, this request is wrong.
			w.health.ok(b.Zone)
			return attempt, err
		case errors.As(err, &ra):
			w.d.m.calls.WithLabelValues(w.name, outcomeRetryAfter).Inc()
		default:
			w.d.m.calls.WithLabelValues(w.name, outcomeTemporary).Inc()
		}
		w.health.failing(b.Zone, err)
		wait := backoff(cfg.BackoffBase, cfg.BackoffMax, attempt)
		if ra != nil {
			// The whole account waits, not just this batch: the
			// provider counts calls per account, so the next batch,
			// whichever it is, goes no earlier. Paused before anything
			// else, so that no path leaves the account unpaused.
			if ra.After > 0 {
				wait = min(ra.After, cfg.MaxRetryAfter)
			}
			w.acct.pause(wait)
			wait = 0
		}
		w.d.log.Info("purge call failed, retrying", "provider", w.name, "zone", b.Zone, "attempt", attempt, "err", err)
		onRetry(attempt, err)
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return attempt, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// backoff is exponential with equal jitter: between half and all of
// base·2^(attempt-1), capped at maxWait, so retries of many instances
// spread out but never come back at once.
func backoff(base, maxWait time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	half := d / 2
	return half + rand.N(half+1)
}
