package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of CoordinatorConfig.
const (
	DefaultMaxBatch    = 500
	DefaultBackoffBase = 100 * time.Millisecond
	// DefaultBackoffMax is short because it is also how long an
	// invalidation may wait after its fault ends (Redis back, an
	// instance acking again) before it is applied.
	DefaultBackoffMax   = 5 * time.Second
	DefaultAckWait      = 30 * time.Second
	DefaultL1AckTimeout = 2 * time.Second
	DefaultCallTimeout  = 10 * time.Second
	DefaultLagInterval  = 5 * time.Second
	// maxAckPending bounds what the consumer hands out unacked, backed-off
	// events included.
	maxAckPending = 20000
	// sideEffects bounds the events of one batch whose calls (the queue,
	// then the states and the audit entry side by side) run at once: at
	// most three calls each, with L2.
	sideEffects = 64
	// maxFinishing bounds the batches whose side effects run while the
	// next batch is applied.
	maxFinishing = 4
)

// CoordinatorConfig configures a Coordinator. The zero value is valid: it
// invalidates L1 only (no L2, no CDN).
type CoordinatorConfig struct {
	// Durable is the consumer name, shared by every instance; "" means
	// DefaultDurable.
	Durable string
	// Mapper turns events into tags; nil means the contract's default.
	Mapper *Mapper
	// Shared is L2; nil means none.
	Shared SharedInvalidator
	// Queue is the durable CDN purge queue; nil means no CDN.
	Queue PurgeQueue
	// Regions says which events' purges this region sends to Queue
	// (Regions.PurgeRegion) and has the coordinator consume the events
	// sourced from other regions too; zero: one region alone.
	Regions Regions
	// States records l1/l2 states per event id; nil records none.
	States StateRecorder
	// Audit records one entry per event; nil records none.
	Audit Auditor
	// MaxBatch bounds the events processed together; 0 means
	// DefaultMaxBatch.
	MaxBatch int
	// BackoffBase doubles per attempt up to BackoffMax; 0 means
	// DefaultBackoffBase and DefaultBackoffMax.
	BackoffBase, BackoffMax time.Duration
	// AckWait is how long a taken event stays invisible to others before
	// it is redelivered (a crashed coordinator); 0 means DefaultAckWait.
	AckWait time.Duration
	// L1AckTimeout bounds the wait for every live instance's ack; 0 means
	// DefaultL1AckTimeout.
	L1AckTimeout time.Duration
	// CallTimeout bounds each call to L2, the queue, states and audit; 0
	// means DefaultCallTimeout.
	CallTimeout time.Duration
	// LagInterval is how often consumer lag is sampled; 0 means
	// DefaultLagInterval.
	LagInterval time.Duration
	// PinnedTTL is how long a partition stays with a coordinator that
	// stopped pulling from it, and how long one that stopped
	// heartbeating counts as live: the hand-over delay after a crash. 0
	// means DefaultPinnedTTL; below MinPinnedTTL is an error.
	PinnedTTL time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer for metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Validate reports a configuration NewCoordinator would refuse.
func (c CoordinatorConfig) Validate() error {
	if c.MaxBatch < 0 {
		return errors.New("events: negative max batch")
	}
	if c.MaxBatch > 10000 {
		return fmt.Errorf("events: max batch %d above 10000", c.MaxBatch)
	}
	for _, d := range []time.Duration{c.BackoffBase, c.BackoffMax, c.AckWait, c.L1AckTimeout, c.CallTimeout, c.LagInterval, c.PinnedTTL} {
		if d < 0 {
			return errors.New("events: negative duration in coordinator config")
		}
	}
	if c.PinnedTTL != 0 && c.PinnedTTL < MinPinnedTTL {
		return fmt.Errorf("events: pinned ttl %v is below %v", c.PinnedTTL, MinPinnedTTL)
	}
	if c.Durable != "" && idToken(c.Durable) != c.Durable {
		return fmt.Errorf("events: durable %q: only letters, digits, '_' and '-'", c.Durable)
	}
	return c.Regions.Validate()
}

func (c CoordinatorConfig) withDefaults() CoordinatorConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	def(&c.BackoffBase, DefaultBackoffBase)
	def(&c.BackoffMax, DefaultBackoffMax)
	def(&c.AckWait, DefaultAckWait)
	def(&c.L1AckTimeout, DefaultL1AckTimeout)
	def(&c.CallTimeout, DefaultCallTimeout)
	def(&c.LagInterval, DefaultLagInterval)
	def(&c.PinnedTTL, DefaultPinnedTTL)
	return c
}

// Coordinator applies events: once per event for L2 and the CDN queue
// (each partition's durable consumer pinned to one coordinator at a time,
// see partition.go), and on every live instance's L1 by broadcast.
type Coordinator struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	cfg     CoordinatorConfig
	log     *slog.Logger
	metrics *coordinatorMetrics
	reg     *registry

	dead   jetstream.Stream
	pendKV jetstream.KeyValue // nil without L2
	ackSub *nats.Subscription
	inbox  string

	pendMu  sync.Mutex
	pending map[string]*broadcastWait

	backlogMu sync.Mutex
	backlog   Backlog

	// legacy is the unpartitioned lane, lanes the partitions'; id names
	// this coordinator among peers (CoordinatorBucket).
	legacy    *lane
	lanes     []*lane
	id        string
	startedAt time.Time
	coordKV   jetstream.KeyValue
	peers     *registry

	in        chan jetstream.Msg
	finishers chan struct{}
	// stop ends the intake; ctx, cancelled after the batches in hand are
	// finished, ends the calls and the helpers.
	stop       chan struct{}
	connClosed chan struct{} // closed when the NATS connection is
	ctx        context.Context
	cancel     context.CancelFunc
	loopWG     sync.WaitGroup // the loop and the finishing batches
	partWG     sync.WaitGroup // runHeartbeats, and runPartitions, which starts and stops lanes
	wg         sync.WaitGroup // the helpers
	once       sync.Once
	started    bool // set by a successful Start, before any goroutine
}

// NewCoordinator returns a Coordinator on js; Start runs it.
func NewCoordinator(js jetstream.JetStream, cfg CoordinatorConfig) (*Coordinator, error) {
	if js == nil {
		return nil, errors.New("events: coordinator needs a JetStream")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newCoordinatorMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Coordinator{js: js, nc: js.Conn(), cfg: cfg, log: log, metrics: m,
		reg: newRegistry(log), peers: newRegistry(log), id: NewID(), pending: make(map[string]*broadcastWait)}, nil
}

// Start binds the consumers, loads the live instances and starts
// processing; it returns once events flow (those of the partitions once
// the unpartitioned consumer is drained, see doc.go). Processing stops
// when ctx is cancelled or Close is called; events taken but not finished
// are handed back for redelivery.
func (c *Coordinator) Start(ctx context.Context) error {
	if err := c.Open(ctx); err != nil {
		return err
	}
	var err error
	if c.cfg.Shared != nil {
		if c.pendKV, err = c.js.KeyValue(ctx, PendingBucket); err != nil {
			return fmt.Errorf("events: bucket %s: %w (is Setup done?)", PendingBucket, err)
		}
	}
	regKV, err := c.js.KeyValue(ctx, RegistryBucket)
	if err != nil {
		return fmt.Errorf("events: bucket %s: %w (is Setup done?)", RegistryBucket, err)
	}
	if c.coordKV, err = c.js.KeyValue(ctx, CoordinatorBucket); err != nil {
		return fmt.Errorf("events: bucket %s: %w (is Setup done?)", CoordinatorBucket, err)
	}
	if err := c.bindLanes(ctx); err != nil {
		return err
	}
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, w := range []struct {
		r  *registry
		kv jetstream.KeyValue
	}{{c.reg, regKV}, {c.peers, c.coordKV}} {
		ready := make(chan struct{})
		if err := w.r.watch(c.ctx, c.nc, w.kv, ready); err != nil {
			c.cancel()
			return fmt.Errorf("events: watch %s: %w", w.kv.Bucket(), err)
		}
		select {
		case <-ready:
		case <-ctx.Done():
			c.cancel()
			return ctx.Err()
		}
	}
	c.inbox = c.nc.NewRespInbox()
	if c.ackSub, err = c.nc.Subscribe(c.inbox+".*", c.handleAck); err != nil {
		c.cancel()
		return fmt.Errorf("events: subscribe to L1 acks: %w", err)
	}
	_ = c.ackSub.SetPendingLimits(1<<20, 64<<20)
	c.in = make(chan jetstream.Msg, 2*c.cfg.MaxBatch)
	c.stop = make(chan struct{})
	c.connClosed = make(chan struct{})
	closed := c.nc.StatusChanged(nats.CLOSED)
	go func() {
		// Calls awaiting answers on a closed connection give up at once.
		defer c.nc.RemoveStatusListener(closed)
		select {
		case <-closed:
			close(c.connClosed)
		case <-c.ctx.Done():
		}
	}()
	c.finishers = make(chan struct{}, maxFinishing)
	if err := c.pull(c.legacy); err != nil {
		_ = c.ackSub.Unsubscribe()
		c.cancel()
		return err
	}
	c.startedAt = time.Now()
	c.started = true
	c.loopWG.Add(1)
	go c.loop()
	c.wg.Add(1)
	go c.sampleLag()
	// In the coordinators' bucket before the first deal of partitions.
	c.heartbeat(ctx)
	c.partWG.Add(2)
	go c.runHeartbeats()
	go c.runPartitions()
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-c.ctx.Done():
		}
	}()
	return nil
}

// Open binds what the operator's calls need (the dead letters, Targets)
// without taking any event: a node that runs no coordinator, since
// coordinators run on other nodes, still lists, retries and discards dead
// letters. Start opens too.
func (c *Coordinator) Open(ctx context.Context) error {
	if c.dead != nil {
		return nil
	}
	dead, err := c.js.Stream(ctx, DeadLetterStreamName)
	if err != nil {
		return fmt.Errorf("events: stream %s: %w (is Setup done?)", DeadLetterStreamName, err)
	}
	c.dead = dead
	return nil
}

// Close stops taking events, finishes the batches in hand (each call is
// bounded by CallTimeout) and hands the events not yet started back for
// redelivery.
func (c *Coordinator) Close() error {
	if !c.started {
		return nil
	}
	c.once.Do(func() {
		close(c.stop)
		c.partWG.Wait() // no lane is started after this
		var wg sync.WaitGroup
		for _, l := range append([]*lane{c.legacy}, c.lanes...) {
			wg.Go(func() { l.release(c.cfg.CallTimeout) })
		}
		wg.Wait()
		c.loopWG.Wait()
	nak:
		for {
			select {
			case m := <-c.in:
				_ = m.Nak()
			default:
				break nak
			}
		}
		// Everything taken is acked or handed back: the partitions can
		// pass on now rather than after PinnedTTL, and their next owner
		// starts with what was handed back, in order.
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CallTimeout)
		defer cancel()
		for _, l := range c.lanes {
			c.unpin(ctx, l)
		}
		_ = c.coordKV.Delete(ctx, c.id)
		c.cancel()
		c.wg.Wait()
		_ = c.ackSub.Unsubscribe()
	})
	return nil
}

func (c *Coordinator) loop() {
	defer c.loopWG.Done()
	batch := make([]jetstream.Msg, 0, c.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-c.stop:
			return
		case m := <-c.in:
			batch = append(batch, m)
		}
	drain:
		for len(batch) < c.cfg.MaxBatch {
			select {
			case m := <-c.in:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		c.processBatch(batch)
	}
}

func (c *Coordinator) sampleLag() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
		c.sampleBacklog(ctx)
		cancel()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Backlog is the coordinator's view of the work not yet done, for
// readiness detail and the dashboard.
type Backlog struct {
	// Events not yet applied: undelivered plus delivered but not acked
	// (retrying ones included).
	Events uint64 `json:"events"`
	// Oldest is the age of the oldest of them; 0 when none.
	Oldest time.Duration `json:"oldest_ns"`
	// L2Pending counts invalidations L2 has not recorded yet.
	L2Pending uint64 `json:"l2_pending"`
	// Sampled is when these were read; zero before the first sample.
	Sampled time.Time `json:"sampled"`
}

// Backlog returns the latest sample (see LagInterval).
func (c *Coordinator) Backlog() Backlog {
	c.backlogMu.Lock()
	defer c.backlogMu.Unlock()
	return c.backlog
}

// sampleBacklog reads the consumer's lag, the oldest unapplied event's
// age (the message just above the ack floor) and the pending L2 count.
func (c *Coordinator) sampleBacklog(ctx context.Context) {
	b := Backlog{Sampled: time.Now()}
	var pending, ackPending uint64
	var stream jetstream.Stream
	// Every lane, whoever pulls from it: each coordinator reports the
	// whole backlog, as before partitioning.
	for _, l := range append([]*lane{c.legacy}, c.lanes...) {
		info, err := l.cons.Info(ctx)
		if err != nil {
			return
		}
		pending += info.NumPending
		ackPending += uint64(info.NumAckPending)
		if info.NumPending+uint64(info.NumAckPending) == 0 {
			continue
		}
		if stream == nil {
			if stream, err = c.js.Stream(ctx, StreamName); err != nil {
				continue
			}
		}
		// The message just above the ack floor is at most as young as
		// the lane's oldest unapplied one.
		if m, err := stream.GetMsg(ctx, info.AckFloor.Stream+1); err == nil {
			b.Oldest = max(b.Oldest, time.Since(m.Time))
		}
	}
	b.Events = pending + ackPending
	c.metrics.pending.Set(float64(pending))
	c.metrics.ackPending.Set(float64(ackPending))
	c.metrics.oldest.Set(b.Oldest.Seconds())
	if c.pendKV != nil {
		if st, err := c.pendKV.Status(ctx); err == nil {
			b.L2Pending = st.Values()
			c.metrics.l2Pending.Set(float64(b.L2Pending))
		}
	}
	c.backlogMu.Lock()
	c.backlog = b
	c.backlogMu.Unlock()
	c.sampleSources(ctx)
}

// sampleSources reports how each source region's sourcing is doing: the
// part of the cross-region guarantee no wait-publish covers.
func (c *Coordinator) sampleSources(ctx context.Context) {
	if len(c.cfg.Regions.Sources) == 0 {
		return
	}
	s, err := c.js.Stream(ctx, StreamName)
	if err != nil {
		return
	}
	for _, src := range s.CachedInfo().Sources {
		region, ok := sourceRegion(src)
		if !ok {
			continue
		}
		c.metrics.sourceLag.WithLabelValues(region).Set(float64(src.Lag))
		active := -1.0
		if src.Active >= 0 {
			active = src.Active.Seconds()
		}
		c.metrics.sourceActive.WithLabelValues(region).Set(active)
	}
}

// backoff is the redelivery delay after the n-th failed delivery.
func (c *Coordinator) backoff(n uint64) time.Duration {
	d := c.cfg.BackoffBase
	for i := uint64(1); i < n && d < c.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.cfg.BackoffMax)
}

// broadcastWait collects the acks of one L1 broadcast.
type broadcastWait struct {
	want      map[string]bool // instance → acked
	remaining int
	errs      []string
	done      chan struct{}
}

func (c *Coordinator) handleAck(m *nats.Msg) {
	var a l1Ack
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return
	}
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	w := c.pending[a.Batch]
	if w == nil {
		c.metrics.l1Acks.WithLabelValues("late").Inc()
		return
	}
	acked, known := w.want[a.Instance]
	switch {
	case !known:
		// Registered after the broadcast was sent: it got it anyway, but
		// it is not what we wait for.
		c.metrics.l1Acks.WithLabelValues("unknown").Inc()
		return
	case acked:
		return
	}
	w.want[a.Instance] = true
	if a.Error != "" {
		c.metrics.l1Acks.WithLabelValues("error").Inc()
		w.errs = append(w.errs, a.Instance+": "+a.Error)
	} else {
		c.metrics.l1Acks.WithLabelValues("ok").Inc()
	}
	if w.remaining--; w.remaining == 0 {
		close(w.done)
	}
}

// LiveInstances lists the instances whose L1 acks the coordinator awaits
// now (for the dashboard, and tests).
func (c *Coordinator) LiveInstances() []string { return c.reg.live(time.Now()) }
