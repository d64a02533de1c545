package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
)

// Partitioning of the event stream (see doc.go for the design).
const (
	// PartitionSubjectPrefix + "<partition>.<tenant>.<entity>" is the
	// subject an event is stored under: the stream rewrites
	// cachegate.events.<tenant>.<entity> on arrival, the partition
	// computed by the server from the tenant token alone.
	PartitionSubjectPrefix = "cachegate.partition."
	// DefaultPartitions is the partition count of a new stream.
	DefaultPartitions = 4
	// MaxPartitions bounds it: each partition is a consumer every
	// coordinator may pull from.
	MaxPartitions = 64
	// CoordinatorBucket holds one key per live coordinator, so that the
	// coordinators agree on who takes which partition.
	CoordinatorBucket = "CACHEGATE_COORDINATORS"
	// DefaultPinnedTTL is how long a partition stays pinned to a
	// coordinator that stopped pulling from it (died, or gave it up),
	// and how long a coordinator that stopped heartbeating counts as
	// live: the hand-over delay.
	DefaultPinnedTTL = 5 * time.Second
	// MinPinnedTTL keeps the pull-request refresh (PinnedTTL/2, at least
	// the client's 1 s floor) inside the pin.
	MinPinnedTTL = 2 * time.Second
	// partitionGroup is the priority group every coordinator pulls in.
	partitionGroup = "coordinators"
	// maxLegacyWait bounds how long the partitions wait for the events
	// stored before partitioning to be applied.
	maxLegacyWait = time.Minute
	// partitionsKey is the stream metadata key saying how many partitions
	// the transform makes, read by the coordinators.
	partitionsKey = "cachegate_partitions"
)

// partitionTransform rewrites an event subject to carry its partition,
// hashed from the tenant token (wildcard 1), so one tenant's events are
// always in one partition, in publish order.
func partitionTransform(n int) *jetstream.SubjectTransformConfig {
	return &jetstream.SubjectTransformConfig{
		Source:      SubjectPrefix + "*.>",
		Destination: fmt.Sprintf("%s{{partition(%d,1)}}.{{wildcard(1)}}.>", PartitionSubjectPrefix, n),
	}
}

// publishedSubject is the subject an event was published on, given the
// subject it is stored under (either form, local or sourced from another
// region): the partition token taken out.
func publishedSubject(stored string) string {
	if rest, ok := strings.CutPrefix(stored, PartitionSubjectPrefix); ok {
		if _, rest, ok = strings.Cut(rest, "."); ok {
			return SubjectPrefix + rest
		}
		return stored
	}
	if rest, ok := strings.CutPrefix(stored, SourcedSubjectPrefix); ok {
		region, rest, ok := strings.Cut(rest, ".")
		if !ok {
			return stored
		}
		if _, rest, ok = strings.Cut(rest, "."); ok {
			return SourcedSubjectPrefix + region + "." + rest
		}
	}
	return stored
}

// streamPartitions is the partition count the stream's transform makes; 0
// for a stream set up before partitioning (every event stored as
// published).
func streamPartitions(cfg jetstream.StreamConfig) int {
	if cfg.SubjectTransform == nil {
		return 0
	}
	n, err := strconv.Atoi(cfg.Metadata[partitionsKey])
	if err != nil || n < 1 {
		return 0
	}
	return n
}

// Durables names the coordinators' consumers on the event stream: the
// unpartitioned durable and one per partition (for operators and tests
// that wait until every event is applied).
func Durables(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("events: stream %s: %w", StreamName, err)
	}
	out := []string{DefaultDurable}
	for p := range streamPartitions(s.CachedInfo().Config) {
		out = append(out, partitionDurable(DefaultDurable, p))
	}
	return out, nil
}

func partitionDurable(base string, p int) string { return fmt.Sprintf("%s-p%d", base, p) }

// partitionCount is the partition count Setup gives the stream: want, or
// for 0 the existing stream's count (DefaultPartitions for a new or
// unpartitioned one). It refuses to change the count of a partitioned
// stream: a tenant would move to another partition while its earlier
// events wait in the old one, and the two would be applied concurrently.
func partitionCount(ctx context.Context, js jetstream.JetStream, want int) (int, error) {
	got := 0
	s, err := ensure.Settled(ctx, func(ctx context.Context) (jetstream.Stream, error) { return js.Stream(ctx, StreamName) })
	switch {
	case err == nil:
		got = streamPartitions(s.CachedInfo().Config)
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return 0, fmt.Errorf("events: stream %s: %w", StreamName, err)
	}
	switch {
	case want == 0 && got == 0:
		return DefaultPartitions, nil
	case want == 0:
		return got, nil
	case got != 0 && got != want:
		return 0, fmt.Errorf("events: stream %s has %d partitions, the configuration asks for %d: the count of an existing stream is not changed (see docs/scaling.md)", StreamName, got, want)
	}
	return want, nil
}

// lane is one consumer the coordinator pulls from: the shared durable of
// unpartitioned events (every coordinator pulls, as before partitioning),
// or one partition's (pinned to one coordinator at a time).
type lane struct {
	name      string
	partition int // -1 for the unpartitioned lane
	cons      jetstream.Consumer

	mu       sync.Mutex
	cc       jetstream.ConsumeContext // nil while not pulled from
	stopping chan struct{}            // closed when this lane is given up
	pinID    string                   // the last pin the server gave us

	// taken counts this lane's messages handed to the batch loop and not
	// yet acked, naked or terminated: a lane given up hands its partition
	// over once it is zero. idle is signalled each time it falls to zero.
	taken atomic.Int64
	idle  chan struct{}
}

// laneMsg is a message a lane handed to the batch loop; its first
// settlement tells the lane.
type laneMsg struct {
	jetstream.Msg
	l       *lane
	settled atomic.Bool
}

func (m *laneMsg) settle() {
	if m.settled.CompareAndSwap(false, true) && m.l.taken.Add(-1) == 0 {
		select {
		case m.l.idle <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

func (m *laneMsg) Ack() error {
	defer m.settle()
	return m.Msg.Ack()
}

func (m *laneMsg) Nak() error {
	defer m.settle()
	return m.Msg.Nak()
}

func (m *laneMsg) NakWithDelay(d time.Duration) error {
	defer m.settle()
	return m.Msg.NakWithDelay(d)
}

func (m *laneMsg) Term() error {
	defer m.settle()
	return m.Msg.Term()
}

// bindLanes declares the unpartitioned durable (the consumer of a
// deployment from before partitioning, kept so the events it holds are
// applied exactly as before) and one pinned durable per partition.
func (c *Coordinator) bindLanes(ctx context.Context) error {
	base := jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    -1, // a transient failure is retried until it succeeds
		MaxAckPending: maxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	legacy := base
	legacy.Durable, legacy.Description, legacy.FilterSubject = c.cfg.Durable, "cachegate invalidation coordinator", SubjectPrefix+">"
	cons, err := ensure.Consumer(ctx, c.js, StreamName, legacy)
	if err != nil {
		return fmt.Errorf("events: consumer %s: %w", legacy.Durable, err)
	}
	c.legacy = &lane{name: legacy.Durable, partition: -1, cons: cons, idle: make(chan struct{}, 1)}
	s, err := c.js.Stream(ctx, StreamName)
	if err != nil {
		return fmt.Errorf("events: stream %s: %w", StreamName, err)
	}
	n := streamPartitions(s.CachedInfo().Config)
	for p := range n {
		pc := base
		pc.Durable = partitionDurable(c.cfg.Durable, p)
		pc.Description = fmt.Sprintf("cachegate invalidation coordinator, partition %d of %d", p, n)
		if f := c.cfg.Regions.partitionFilters(p); len(f) == 1 {
			pc.FilterSubject = f[0]
		} else {
			pc.FilterSubjects = f
		}
		pc.PriorityGroups = []string{partitionGroup}
		pc.PriorityPolicy = jetstream.PriorityPolicyPinned
		pc.PinnedTTL = c.cfg.PinnedTTL
		cons, err := ensure.Consumer(ctx, c.js, StreamName, pc)
		if err != nil {
			return fmt.Errorf("events: consumer %s: %w", pc.Durable, err)
		}
		c.lanes = append(c.lanes, &lane{name: pc.Durable, partition: p, cons: cons, idle: make(chan struct{}, 1)})
	}
	return nil
}

// pull starts taking l's events into the batch loop.
func (c *Coordinator) pull(l *lane) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cc != nil {
		return nil
	}
	stopping := make(chan struct{})
	// What the client buffers per lane: two batches, shared out when a
	// coordinator pulls from many partitions, so 64 of them do not hold
	// 64 times the buffer of one.
	buffer := 2 * c.cfg.MaxBatch
	if n := len(c.lanes); n > DefaultPartitions {
		buffer = max(buffer*DefaultPartitions/n, c.cfg.MaxBatch/2, 1)
	}
	opts := []jetstream.PullConsumeOpt{
		jetstream.PullMaxMessages(buffer),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				c.log.Error("a coordinator consumer is gone; restart the coordinator", "consumer", l.name, "err", err)
				return
			}
			c.log.Debug("consume", "consumer", l.name, "err", err)
		}),
	}
	if l.partition >= 0 {
		// Pull requests refresh the pin: renewed well within PinnedTTL,
		// an idle owner keeps its partitions.
		opts = append(opts, jetstream.PullPriorityGroup(partitionGroup),
			jetstream.PullExpiry(max(c.cfg.PinnedTTL/2, time.Second)))
	}
	cc, err := l.cons.Consume(func(m jetstream.Msg) {
		if id := m.Headers().Get("Nats-Pin-Id"); id != "" {
			l.mu.Lock()
			l.pinID = id
			l.mu.Unlock()
		}
		select {
		case <-stopping:
			_ = m.Nak() // given up: the next owner takes it first
			return
		default:
		}
		lm := &laneMsg{Msg: m, l: l}
		l.taken.Add(1)
		select {
		case c.in <- lm:
		case <-stopping:
			_ = lm.Nak()
		case <-c.stop:
			_ = lm.Nak() // stopping: hand it to another coordinator now
		}
	}, opts...)
	if err != nil {
		return fmt.Errorf("events: consume %s: %w", l.name, err)
	}
	l.cc, l.stopping = cc, stopping
	return nil
}

// release stops pulling from l. Drain, not Stop: Stop discards the
// messages the client has buffered, which the server would hand on only
// after AckWait; draining runs them through the callback, which naks them.
//
// It reports whether the lane is closed: its callback hands nothing more
// to the batch loop. Until then its partition must not be handed over.
func (l *lane) release(wait time.Duration) bool {
	l.mu.Lock()
	cc := l.cc
	if cc != nil {
		close(l.stopping)
		l.cc = nil
	}
	l.mu.Unlock()
	if cc == nil {
		return true
	}
	cc.Drain()
	select {
	case <-cc.Closed():
		return true
	case <-time.After(wait):
		return false
	}
}

func (l *lane) pulling() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cc != nil
}

// unpin hands l over at once if this coordinator holds its pin: called
// after the events it took are finished, so the next owner starts after
// them.
func (c *Coordinator) unpin(ctx context.Context, l *lane) {
	l.mu.Lock()
	mine := l.pinID
	l.mu.Unlock()
	if mine == "" {
		return
	}
	info, err := l.cons.Info(ctx)
	if err != nil {
		return
	}
	for _, g := range info.PriorityGroups {
		if g.Group == partitionGroup && g.PinnedClientID == mine {
			if s, err := c.js.Stream(ctx, StreamName); err == nil {
				_ = s.UnpinConsumer(ctx, l.name, partitionGroup)
			}
		}
	}
}

// handOver unpins a lane given up once the events it took are finished
// (acked, or handed back for redelivery), so that its next owner starts
// at once, after them, rather than when the pin expires (PinnedTTL):
// events published meanwhile would wait that long. When they are not
// finished within CallTimeout, the pin is left to expire.
func (c *Coordinator) handOver(l *lane) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	for l.taken.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-c.stop:
			return // Close unpins every lane after the batch loop ends
		case <-l.idle: // taken fell to zero: checked again above
		}
	}
	c.unpin(ctx, l)
}

// owned reports which partitions this coordinator should pull from, the
// live coordinators sorted and dealt the partitions in turn. Views that
// briefly disagree (one just joined or left) are safe: the server pins a
// partition to one puller at a time.
func (c *Coordinator) owned(now time.Time) []bool {
	out := make([]bool, len(c.lanes))
	peers := c.peers.live(now)
	self := -1
	for i, id := range peers {
		if id == c.id {
			self = i
		}
	}
	if self < 0 {
		// Not registered yet, or our heartbeat is late: take nothing
		// rather than compete with the owners.
		return out
	}
	for p := range out {
		out[p] = p%len(peers) == self
	}
	return out
}

// partitionsHere lists the partitions this coordinator pulls from now.
func (c *Coordinator) partitionsHere() []int {
	var out []int
	for _, l := range c.lanes {
		if l.pulling() {
			out = append(out, l.partition)
		}
	}
	return out
}

// Partitions lists the event-stream partitions this coordinator pulls
// from now (the server pins each to one of their pullers).
func (c *Coordinator) Partitions() []int { return c.partitionsHere() }

// runHeartbeats keeps this coordinator in the coordinators' bucket, every
// PinnedTTL/4, on a goroutine of its own: giving up a partition (release)
// may wait on the server for seconds, and a heartbeat held behind it would
// let this coordinator's entry lapse and its partitions flap.
func (c *Coordinator) runHeartbeats() {
	defer c.partWG.Done()
	beat := time.NewTicker(c.cfg.PinnedTTL / 4)
	defer beat.Stop()
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.PinnedTTL/2)
		c.heartbeat(ctx)
		cancel()
		select {
		case <-c.ctx.Done():
			return
		case <-c.stop:
			return
		case <-beat.C:
		}
	}
}

// runPartitions waits for the unpartitioned lane to be drained (events
// stored before partitioning go first, so a tenant's order holds across
// the upgrade), then keeps pulling from the partitions it owns and gives
// up those it no longer owns.
func (c *Coordinator) runPartitions() {
	defer c.partWG.Done()
	tick := time.NewTicker(c.cfg.PinnedTTL / 4)
	defer tick.Stop()
	drained := false
	for {
		if !drained {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
			drained = c.legacyDrained(ctx)
			cancel()
			if !drained && time.Since(c.startedAt) > maxLegacyWait {
				// Old events failing for good (a long outage) must not
				// hold every new one back: order across the upgrade is
				// given up for the tenants they belong to.
				c.log.Warn("events stored before partitioning are still not applied; pulling the partitions anyway", "waited", maxLegacyWait)
				drained = true
			}
		}
		if drained {
			c.rebalance()
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.stop:
			return
		case <-tick.C:
		}
	}
}

func (c *Coordinator) heartbeat(ctx context.Context) {
	b, _ := json.Marshal(instanceInfo{ID: c.id, TTL: c.cfg.PinnedTTL, Started: c.startedAt})
	if _, err := c.coordKV.Put(ctx, c.id, b); err != nil {
		c.log.Warn("coordinator heartbeat failed; its partitions pass to others after the pinned ttl", "err", err)
	}
}

// legacyDrained reports whether the unpartitioned lane holds nothing
// unapplied. Afterwards only events no transform matched reach it.
func (c *Coordinator) legacyDrained(ctx context.Context) bool {
	info, err := c.legacy.cons.Info(ctx)
	if err != nil {
		return false
	}
	return info.NumPending == 0 && info.NumAckPending == 0
}

func (c *Coordinator) rebalance() {
	mine := c.owned(time.Now())
	var given []*lane
	for p, l := range c.lanes {
		select {
		case <-c.stop:
			return
		default:
		}
		switch {
		case mine[p] && !l.pulling():
			if err := c.pull(l); err != nil {
				c.log.Warn("partition not taken; retrying", "partition", p, "err", err)
			} else {
				c.log.Info("pulling from partition", "partition", p)
			}
		case !mine[p] && l.pulling():
			given = append(given, l)
		}
	}
	// Given up side by side, after taking what is ours: each waits on the
	// server (the drain) and on the events it took, up to CallTimeout.
	var wg sync.WaitGroup
	for _, l := range given {
		wg.Go(func() {
			if l.release(c.cfg.CallTimeout) {
				c.handOver(l)
			}
			c.log.Info("partition given up to another coordinator", "partition", l.partition)
		})
	}
	wg.Wait()
}
