package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of DispatcherConfig's zero values.
const (
	DefaultWindow        = 300 * time.Millisecond
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
	DefaultCallTimeout   = 30 * time.Second
	DefaultAckWait       = 30 * time.Second
	DefaultMaxAckPending = 20000
)

// Auditor records audit lines; *audit.Log implements it.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

// Provider is one configured CDN provider and how to reach tenants at it.
type Provider struct {
	Purger Purger
	// Zone is the zone (Cloudflare zone id, Fastly service id) shared by
	// every tenant not in Zones, with tenant-prefixed tags. Empty: only
	// the tenants in Zones are purged at this provider; others fail with
	// a reason.
	Zone string
	// Zones maps a tenant to a zone of its own, where Everything purges
	// the whole zone.
	Zones map[string]string
	// Limits overrides Purger.Limits() field by field; zero fields keep
	// the provider's documented limits.
	Limits Limits
	// Rate is the token bucket of the provider account; zero means none.
	Rate RateLimit
	// Account names the provider account: providers with the same
	// Account share one bucket. Empty means the provider's own.
	Account string
	// Soft marks content stale instead of removing it, where supported.
	Soft bool
	// After names the providers that must have an outcome for a purge
	// before this provider's batches for it are sent: the cache layers
	// this provider fetches from (Varnish, for a CDN in front of it). A
	// purge of the outer layer first would be undone by a request that
	// refills it from the inner layer's stale copy, for the outer layer's
	// max-age. The order holds per purge and transitively; a provider a
	// purge does not target is not waited for. An inner provider that ends
	// failed releases the outer one all the same (a late purge beats a
	// stale copy), and the outer state's Detail says so. Empty: no order.
	After []string
}

// DispatcherConfig configures a Dispatcher. Zero values are documented
// defaults.
type DispatcherConfig struct {
	Providers []Provider
	// Hosts maps a tenant to its public host ("acme.example.com"), to
	// make URLs and prefixes absolute for providers that purge them.
	Hosts map[string]string
	// Window is the coalescing window: purges dequeued within it are
	// merged into one round. 0 means DefaultWindow.
	Window time.Duration
	// BackoffBase and BackoffMax bound the exponential backoff with
	// jitter between attempts after a temporary error, which is retried
	// until it succeeds: there is no attempt budget. 0 means defaults.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter caps a provider's Retry-After (a wrong or hostile
	// value must not park the account for a day). 0 means default.
	MaxRetryAfter time.Duration
	// CallTimeout bounds one provider API call. 0 means default.
	CallTimeout time.Duration
	// AckWait is the consumer's ack wait: a message not acked (nor kept
	// alive by the running dispatcher) within it is redelivered, which is
	// how a crashed instance's purges reach another. 0 means default.
	AckWait time.Duration
	// MaxAckPending bounds the purges in flight. 0 means default.
	MaxAckPending int
	// Auditor receives purge.sent/confirmed/failed lines; nil records none.
	Auditor Auditor
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Validate reports a bad config.
func (c DispatcherConfig) Validate() error {
	if len(c.Providers) == 0 {
		return errors.New("purge: dispatcher needs at least one provider")
	}
	names := map[string]bool{}
	for i, p := range c.Providers {
		if p.Purger == nil {
			return fmt.Errorf("purge: provider %d has no Purger", i)
		}
		n := p.Purger.Name()
		if err := ValidateTarget(n); err != nil {
			return err
		}
		if n == TargetL1 || n == TargetL2 {
			return fmt.Errorf("purge: provider name %q is a gateway layer's", n)
		}
		if names[n] {
			return fmt.Errorf("purge: provider %q configured twice", n)
		}
		names[n] = true
		if err := p.Rate.Validate(); err != nil {
			return fmt.Errorf("provider %s: %w", n, err)
		}
	}
	if err := validateOrder(c.Providers); err != nil {
		return err
	}
	if c.Window < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 ||
		c.MaxRetryAfter < 0 || c.CallTimeout < 0 || c.AckWait < 0 || c.MaxAckPending < 0 {
		return errors.New("purge: negative dispatcher setting")
	}
	return nil
}

func (c *DispatcherConfig) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Window, DefaultWindow)
	def(&c.BackoffBase, DefaultBackoffBase)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.AckWait, DefaultAckWait)
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Dispatcher delivers the queue's purges to the providers.
type Dispatcher struct {
	cfg     DispatcherConfig
	js      jetstream.JetStream
	states  *States
	m       *metrics
	log     *slog.Logger
	workers map[string]*worker
	// before is, per provider, every provider it waits for (After,
	// transitively).
	before map[string][]string

	mu       sync.Mutex
	inflight map[*job]struct{}

	shared shared // the backlog's server-side figures, briefly cached
}

// job is one dequeued message, done once every provider it targets has a
// durable outcome.
type job struct {
	msg jetstream.Msg
	m   Message

	mu        sync.Mutex
	remaining int
	recordErr bool
	// outcomes holds the providers with a recorded outcome (nil error:
	// confirmed); held, the providers not yet handed the job and the
	// providers whose outcomes they wait for.
	outcomes map[string]error
	held     map[string][]string
}

// NewDispatcher returns a dispatcher for q's purges.
func NewDispatcher(q *Queue, cfg DispatcherConfig) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg: cfg, js: q.js, states: q.states, m: m, log: cfg.Logger,
		workers: map[string]*worker{}, inflight: map[*job]struct{}{},
		before: closeOrder(cfg.Providers),
	}
	accounts := map[string]*account{}
	for _, p := range cfg.Providers {
		name := p.Purger.Name()
		acct := p.Account
		if acct == "" {
			acct = "provider:" + name
		}
		a := accounts[acct]
		if a == nil {
			a = newAccount(p.Rate)
			accounts[acct] = a
		}
		d.workers[name] = newWorker(d, p, a)
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(newBacklogCollector(d)); err != nil {
			return nil, fmt.Errorf("purge: register backlog metrics: %w", err)
		}
	}
	return d, nil
}

// Run consumes the queue until ctx ends. Purges in flight when it ends
// are not acked but handed back (nak), so they are redelivered to this or
// another instance; outcomes already reached are recorded first.
func (d *Dispatcher) Run(ctx context.Context) error {
	cons, err := ensure.Consumer(ctx, d.js, StreamName, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d.cfg.AckWait,
		MaxAckPending: d.cfg.MaxAckPending,
		MaxDeliver:    -1,
		FilterSubject: Subject,
	})
	if err != nil {
		return fmt.Errorf("purge: consumer %s: %w", ConsumerName, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan jetstream.Msg, 1024)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		select {
		case in <- msg:
		case <-ctx.Done():
			_ = msg.Nak() // stopping: hand it back now
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		d.log.Warn("purge queue consumer", "err", err)
	}))
	if err != nil {
		return fmt.Errorf("purge: consume %s: %w", StreamName, err)
	}
	defer cc.Stop()

	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Go(func() { d.keepAlive(ctx) })
	d.coalesce(ctx, in)
	cancel()
	// Drain, not Stop: Stop discards the messages the client has
	// buffered, which would come back only after AckWait; draining runs
	// them through the callback, which naks them now that ctx is done.
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(d.cfg.CallTimeout):
	}
	wg.Wait()
	for len(in) > 0 {
		_ = (<-in).Nak() // dequeued but never accepted
	}
	// A clean stop hands unfinished purges back at once instead of after
	// AckWait; after a crash, AckWait does it.
	d.mu.Lock()
	defer d.mu.Unlock()
	for j := range d.inflight {
		_ = j.msg.Nak()
		delete(d.inflight, j)
	}
	return nil
}

// coalesce gathers dequeued purges for the window that starts with the
// first of them, then hands the round to every provider's worker.
func (d *Dispatcher) coalesce(ctx context.Context, in <-chan jetstream.Msg) {
	var round []*job
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-in:
			j := d.accept(ctx, msg)
			if j == nil {
				continue
			}
			if len(round) == 0 {
				timer = time.After(d.cfg.Window)
			}
			round = append(round, j)
		case <-timer:
			if len(round) > 0 {
				d.log.Debug("purge round", "purges", len(round), "oldest", time.Since(round[0].m.Enqueued), "newest", time.Since(round[len(round)-1].m.Enqueued))
			}
			d.hand(ctx, round)
			round, timer = nil, nil
		}
	}
}

// accept decodes a message into a job, terminating what is not a purge
// (only Queue writes the stream; a foreign message would be redelivered
// forever).
func (d *Dispatcher) accept(ctx context.Context, msg jetstream.Msg) *job {
	var m Message
	if err := json.Unmarshal(msg.Data(), &m); err != nil || m.Request.ID == "" || m.Request.Validate() != nil {
		d.log.Error("purge queue: dropping a message that is not a valid purge", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return nil
	}
	j := &job{msg: msg, m: m}
	d.mu.Lock()
	d.inflight[j] = struct{}{}
	d.mu.Unlock()
	return j
}

// hand gives each job to the workers of its providers. A job naming a
// provider that is not configured here fails there, visibly.
func (d *Dispatcher) hand(ctx context.Context, round []*job) {
	perWorker := map[*worker][]*job{}
	for _, j := range round {
		names := d.targetsOf(j)
		targeted := make(map[string]bool, len(names))
		for _, n := range names {
			targeted[n] = true
		}
		// Under the lock: Backlog reads the outcomes from another
		// goroutine.
		j.mu.Lock()
		j.remaining = len(names)
		j.outcomes = make(map[string]error, len(names))
		j.mu.Unlock()
		// The held providers are set before any outcome is recorded, so
		// that the outcome that releases one always finds it.
		var ready []*worker
		for _, n := range names {
			w := d.workers[n]
			if w == nil {
				continue
			}
			var wait []string
			for _, b := range d.before[n] {
				if targeted[b] {
					wait = append(wait, b)
				}
			}
			if len(wait) == 0 {
				ready = append(ready, w)
				continue
			}
			if j.held == nil {
				j.held = map[string][]string{}
			}
			j.held[n] = wait
		}
		for _, w := range ready {
			perWorker[w] = append(perWorker[w], j)
		}
		for _, n := range names {
			if d.workers[n] == nil {
				d.finish(ctx, j, n, outcome{err: fmt.Errorf("provider %q is not configured", n)})
			}
		}
	}
	for w, jobs := range perWorker {
		w.push(jobs)
	}
}

// outcome is how a purge ended at one provider.
type outcome struct {
	err      error // nil: confirmed
	attempts int
}

// finish records the outcome of j at provider durably, then acks j once
// every provider has one. If the record fails, j is redelivered later.
func (d *Dispatcher) finish(ctx context.Context, j *job, provider string, o outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req := j.m.Request
	now := time.Now().UTC()
	st := State{Status: StatusConfirmed, Attempts: o.attempts, Updated: now}
	entry := audit.Entry{
		Actor: "purge-dispatcher", Action: "purge.confirmed", ID: req.ID, Tenant: req.Tenant,
		Tags: req.Tags, URLs: req.URLs, Prefixes: req.Prefixes, Everything: req.Everything,
		Provider: provider, Result: "ok",
	}
	// An inner layer that failed did not hold this provider back; its
	// state says so, since its purge may have been refilled from there.
	j.mu.Lock()
	var innerFailed []string
	for _, b := range d.before[provider] {
		if err, ok := j.outcomes[b]; ok && err != nil {
			innerFailed = append(innerFailed, b)
		}
	}
	j.mu.Unlock()
	var late string
	if len(innerFailed) > 0 {
		late = fmt.Sprintf("sent after %s failed: a stale copy there may have refilled this layer", strings.Join(innerFailed, ", "))
		st.Detail = late
		entry.Result = "ok, " + late
	}
	var recErr error
	if o.err != nil {
		reason := o.err.Error()
		if late != "" {
			reason += "; " + late
		}
		st.Status, st.Detail = StatusFailed, reason
		entry.Action, entry.Result = "purge.failed", "failed: "+reason
		recErr = d.states.recordFailure(ctx, Failure{
			ID: req.ID, Provider: provider, Request: req, Reason: reason, Attempts: o.attempts, Time: now,
		})
		d.m.failed.WithLabelValues(provider).Inc()
		d.log.Warn("purge failed", "id", req.ID, "provider", provider, "attempts", o.attempts, "reason", reason)
	} else {
		d.m.confirmed.WithLabelValues(provider).Inc()
		d.m.latency.WithLabelValues(provider).Observe(time.Since(j.m.Enqueued).Seconds())
	}
	if recErr == nil {
		recErr = d.states.SetState(ctx, req.ID, provider, st)
	}
	if d.cfg.Auditor != nil {
		if err := d.cfg.Auditor.Record(ctx, entry); err != nil {
			d.log.Warn("purge audit", "id", req.ID, "err", err)
		}
	}
	j.mu.Lock()
	if recErr != nil {
		j.recordErr = true
		d.log.Error("purge: cannot record outcome, will redeliver", "id", req.ID, "provider", provider, "err", recErr)
	}
	// Released even when the record failed: the message is redelivered
	// then anyway, and the outer purge is harmless before that.
	j.outcomes[provider] = o.err
	var release []string
	for n, wait := range j.held {
		done := true
		for _, b := range wait {
			if _, ok := j.outcomes[b]; !ok {
				done = false
				break
			}
		}
		if done {
			release = append(release, n)
			delete(j.held, n)
		}
	}
	j.remaining--
	last, redeliver := j.remaining == 0, j.recordErr
	j.mu.Unlock()
	for _, n := range release {
		d.log.Debug("purge released to the outer layer", "id", req.ID, "provider", n, "after", provider)
		d.workers[n].push([]*job{j})
	}
	if !last {
		return
	}
	d.mu.Lock()
	delete(d.inflight, j)
	d.mu.Unlock()
	if redeliver {
		_ = j.msg.NakWithDelay(d.cfg.BackoffBase)
		return
	}
	if err := j.msg.Ack(); err != nil {
		d.log.Warn("purge ack", "id", req.ID, "err", err)
	}
}

// keepAlive tells the server that in-flight purges are still being worked
// on, so that retries longer than AckWait do not redeliver them; only a
// dispatcher that stops (crash) lets them go to another.
func (d *Dispatcher) keepAlive(ctx context.Context) {
	t := time.NewTicker(d.cfg.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, j := range d.inflightJobs() {
			_ = j.msg.InProgress()
		}
	}
}

// inflightJobs is a snapshot of the jobs dequeued and not yet acked.
func (d *Dispatcher) inflightJobs() []*job {
	d.mu.Lock()
	defer d.mu.Unlock()
	jobs := make([]*job, 0, len(d.inflight))
	for j := range d.inflight {
		jobs = append(jobs, j)
	}
	return jobs
}

// targetsOf names the providers j goes to: those of its message, or every
// configured one.
func (d *Dispatcher) targetsOf(j *job) []string {
	if len(j.m.Providers) > 0 {
		return j.m.Providers
	}
	names := make([]string, 0, len(d.cfg.Providers))
	for _, p := range d.cfg.Providers {
		names = append(names, p.Purger.Name())
	}
	return names
}
