package events

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/tagging"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// item is one event of a batch.
type item struct {
	msg       jetstream.Msg
	meta      *jetstream.MsgMetadata
	ev        Event
	req       invalidation.Request
	published time.Time // zero when the publisher did not stamp it
	// origin is the region the event was published in; "" for this one.
	origin string
	stage  string // where it failed, "" if it did not
	err    error
	shared bool // merged with other events: a failure may be theirs
	// partial says what of the event did not map (PartialMappingError);
	// the rest is applied.
	partial string
}

func (it *item) fail(stage string, err error) {
	if it.err == nil {
		it.stage, it.err = stage, err
	}
}

// group is what one L2 call and one entry of the L1 broadcast carry: the
// merged requests of one tenant's events, or one redelivered event alone.
type group struct {
	items []*item
	req   invalidation.Request
	seen  map[seenKey]struct{}
	size  int
	// pending holds the items' records when the L2 step failed; guarded
	// is set once every one of them is in the PendingBucket.
	pending map[string]pendingRecord
	guarded bool
	// l1Failed: the L1 broadcast was not acked by every live instance.
	l1Failed bool
}

func (c *Coordinator) processBatch(msgs []jetstream.Msg) {
	c.metrics.batchSize.Observe(float64(len(msgs)))
	items := make([]*item, 0, len(msgs))
	for _, m := range msgs {
		c.metrics.received.Inc()
		if it := c.decode(m); it != nil {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return
	}
	groups := groupItems(items)
	c.applyShared(groups)
	c.applyLocal(groups)
	c.notifyApplied(items)
	c.notifyGuarded(groups)
	// The rest (purge queue, states, audit, acks) overlaps with the next
	// batch; finishers bounds how many batches are finishing at once.
	c.finishers <- struct{}{}
	c.loopWG.Add(1)
	go func() {
		defer c.loopWG.Done()
		c.finish(items)
		<-c.finishers
	}()
}

// notifyApplied tells the waiters of the applied events at once.
func (c *Coordinator) notifyApplied(items []*item) {
	now := time.Now()
	for _, it := range items {
		if it.err != nil {
			continue
		}
		if !it.published.IsZero() {
			c.metrics.latency.Observe(now.Sub(it.published).Seconds())
		}
		if it.partial != "" {
			c.notify(it.ev.ID, "applied in part, the rest dead-lettered to edit and retry: "+it.partial)
			continue
		}
		c.notify(it.ev.ID, "")
	}
}

// notifyGuarded tells the waiters of events whose only failure was L2,
// whose pending record is stored and whose L1 broadcast every live
// instance acked, that readers see the change already: each instance
// vetoes the older L2 entries until the retry records the invalidation
// in L2.
func (c *Coordinator) notifyGuarded(groups []*group) {
	for _, g := range groups {
		if !g.guarded || g.l1Failed {
			continue
		}
		for _, it := range g.items {
			if it.stage == purge.TargetL2 {
				c.notifyNote(appliedNote{ID: it.ev.ID, L2Pending: true})
			}
		}
	}
}

// decode parses and maps m; a message it cannot use is dead-lettered here
// and nil returned.
func (c *Coordinator) decode(m jetstream.Msg) *item {
	meta, err := m.Metadata()
	if err != nil {
		c.log.Error("message without JetStream metadata; terminated", "err", err)
		_ = m.Term()
		return nil
	}
	it := &item{msg: m, meta: meta}
	it.origin, _, _ = splitSubject(publishedSubject(m.Subject()))
	msgID := m.Headers().Get(jetstream.MsgIDHeader)
	if it.ev, err = ParseEvent(m.Data()); err != nil {
		c.deadLetter(it, msgID, "", err.Error(), "malformed")
		return nil
	}
	if want := subjectTenant(publishedSubject(m.Subject())); want != token(it.ev.Tenant) {
		// Subject permissions are what confine a tenant's publishers, so
		// the body may not name another tenant than the subject does.
		c.deadLetter(it, cmp.Or(it.ev.ID, msgID), "", fmt.Sprintf(
			"tenant %q in the body does not match the subject's tenant %q (subject %s)", it.ev.Tenant, want, publishedSubject(m.Subject())), "tenant_mismatch")
		return nil
	}
	if it.ev.ID == "" {
		// A retried dead letter keeps the id of its first publish.
		it.ev.ID = m.Headers().Get(HeaderMsgID)
		if it.ev.ID == "" {
			it.ev.ID = msgID
		}
		if it.ev.ID == "" {
			it.ev.ID = StreamName + "-" + strconv.FormatUint(meta.Sequence.Stream, 10)
		}
	}
	var partial *PartialMappingError
	if it.req, err = c.cfg.Mapper.Map(it.ev); errors.As(err, &partial) {
		// Applied as far as it maps; the rest is reported to the waiter
		// and kept as a dead letter to edit and retry.
		it.partial = partial.Error()
	} else if err != nil {
		c.deadLetter(it, it.ev.ID, it.ev.Tenant, err.Error(), "mapping")
		return nil
	}
	if ns, err := strconv.ParseInt(m.Headers().Get(HeaderPublished), 10, 64); err == nil {
		it.published = time.Unix(0, ns)
	}
	return it
}

// groupItems merges first deliveries per tenant, soft and hard ones apart
// (a hard invalidation merged into a soft one would lose its guarantee),
// and keeps redeliveries alone, so a poison event fails by itself on its
// next attempt.
func groupItems(items []*item) []*group {
	type key struct {
		tenant string
		soft   bool
	}
	var groups []*group
	open := make(map[key]*group)
	for _, it := range items {
		n := len(it.req.Tags) + len(it.req.URLs) + len(it.req.Prefixes)
		k := key{it.req.Tenant, it.req.Soft}
		g := open[k]
		if it.meta.NumDelivered > 1 || g == nil || g.size+n > invalidation.MaxItems {
			g = &group{req: invalidation.Request{ID: it.req.ID, Tenant: it.req.Tenant, Soft: it.req.Soft}}
			groups = append(groups, g)
			if it.meta.NumDelivered <= 1 {
				open[k] = g
			}
		}
		g.add(it)
	}
	return groups
}

// seenKey is a tag ('t'), URL ('u') or prefix ('p') of a group: a struct,
// not a concatenation, so that merging allocates nothing per tag.
type seenKey struct {
	kind byte
	v    string
}

func (g *group) add(it *item) {
	g.items = append(g.items, it)
	if len(g.items) == 2 {
		g.req.ID = "batch-" + NewID()
		g.items[0].shared = true
	}
	it.shared = len(g.items) > 1
	if g.seen == nil {
		g.seen = make(map[seenKey]struct{}, len(it.req.Tags)+len(it.req.URLs)+len(it.req.Prefixes))
	}
	for _, l := range []struct {
		kind byte
		vs   []string
		dst  *[]string
	}{{'t', it.req.Tags, &g.req.Tags}, {'u', it.req.URLs, &g.req.URLs}, {'p', it.req.Prefixes, &g.req.Prefixes}} {
		if *l.dst == nil && len(l.vs) > 0 {
			*l.dst = make([]string, 0, len(l.vs))
		}
		for _, v := range l.vs {
			k := seenKey{l.kind, v}
			if _, ok := g.seen[k]; !ok {
				g.seen[k] = struct{}{}
				*l.dst = append(*l.dst, v)
				g.size++
			}
		}
	}
	g.req.Everything = g.req.Everything || it.req.Everything
}

func (g *group) fail(stage string, err error) {
	for _, it := range g.items {
		it.fail(stage, err)
	}
}

// applyShared makes one L2 call per group, concurrently.
func (c *Coordinator) applyShared(groups []*group) {
	if c.cfg.Shared == nil {
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
			defer cancel()
			if err := c.cfg.Shared.InvalidateShared(ctx, g.req); err != nil {
				g.fail(purge.TargetL2, fmt.Errorf("L2: %w", err))
				c.markPending(ctx, g)
				return
			}
			c.clearPending(ctx, g)
		})
	}
	wg.Wait()
}

// markPending records g's invalidations as not yet in L2, in the
// PendingBucket (for instances that start or reconnect later) and in g
// (for the broadcast, so the live instances know before they ack).
func (c *Coordinator) markPending(ctx context.Context, g *group) {
	now := time.Now()
	g.pending = make(map[string]pendingRecord, len(g.items))
	g.guarded = true
	for _, it := range g.items {
		issued := it.published
		if issued.IsZero() || issued.After(now) {
			issued = now
		}
		// With the fallback buckets the layers invalidate too: an entry whose
		// tag fell back carries only its bucket.
		r := pendingRecord{Tenant: it.req.Tenant, Tags: tagging.PurgeTags(it.req.StoreTags()), Everything: it.req.Everything, Issued: issued}
		key := idToken(it.ev.ID)
		g.pending[key] = r
		b, _ := json.Marshal(r)
		if _, err := c.pendKV.Put(ctx, key, b); err != nil {
			g.guarded = false
			c.log.Warn("pending L2 invalidation not recorded; instances that start before it is applied will not know it",
				"id", it.ev.ID, "err", err)
		}
	}
}

// clearPending deletes the records of g's redelivered items, now in L2.
func (c *Coordinator) clearPending(ctx context.Context, g *group) {
	for _, it := range g.items {
		if it.meta.NumDelivered <= 1 {
			continue // never failed here (a crash between can leave a record: harmless, see L2Guard)
		}
		if err := c.pendKV.Delete(ctx, idToken(it.ev.ID)); err != nil {
			c.log.Warn("pending L2 invalidation not cleared; instances treat older entries of its tags as misses", "id", it.ev.ID, "err", err)
		}
	}
}

// applyLocal sends every group to every instance in one broadcast and
// waits for the ack of every live instance. Groups whose L2 step failed
// are broadcast too: otherwise every instance would go on serving its
// pre-event L1 copy for as long as L2 is down, and past the dead-letter.
// While L2 is down, L1 cannot refill from it; the failed event is naked
// and its retry applies L2 and then L1 again, which also clears a copy
// refilled from L2 between its recovery and the retry.
func (c *Coordinator) applyLocal(groups []*group) {
	if len(groups) == 0 {
		return
	}
	b := l1Broadcast{Batch: NewID()}
	for _, g := range groups {
		b.Reqs = append(b.Reqs, g.req)
		for k, r := range g.pending {
			if b.Pending == nil {
				b.Pending = make(map[string]pendingRecord)
			}
			b.Pending[k] = r
		}
	}
	fail := func(err error) {
		for _, g := range groups {
			g.fail(purge.TargetL1, err)
			g.l1Failed = true
		}
	}
	live := c.reg.live(time.Now())
	c.metrics.liveInst.Set(float64(len(live)))
	var w *broadcastWait
	if len(live) > 0 {
		w = &broadcastWait{want: make(map[string]bool, len(live)), remaining: len(live), done: make(chan struct{})}
		for _, id := range live {
			w.want[id] = false
		}
		c.pendMu.Lock()
		c.pending[b.Batch] = w
		c.pendMu.Unlock()
		defer func() {
			c.pendMu.Lock()
			delete(c.pending, b.Batch)
			c.pendMu.Unlock()
		}()
	}
	data, err := json.Marshal(b)
	if err != nil {
		fail(fmt.Errorf("L1: encode broadcast: %w", err))
		return
	}
	if err := c.nc.PublishMsg(&nats.Msg{Subject: L1Subject, Reply: c.inbox + "." + b.Batch, Data: data}); err != nil {
		fail(fmt.Errorf("L1: broadcast: %w", err))
		return
	}
	if w == nil {
		return
	}
	if err := c.awaitAcks(w); err != nil {
		fail(err)
	}
}

// awaitAcks waits for w's instances; one that stops being live meanwhile
// (deregistered, heartbeat expired) is no longer waited for.
func (c *Coordinator) awaitAcks(w *broadcastWait) error {
	timeout := time.NewTimer(c.cfg.L1AckTimeout)
	defer timeout.Stop()
	recheck := time.NewTicker(max(c.cfg.L1AckTimeout/20, 10*time.Millisecond))
	defer recheck.Stop()
	for {
		select {
		case <-w.done:
		case <-c.ctx.Done():
			return fmt.Errorf("L1: %w", c.ctx.Err())
		case <-c.connClosed:
			return fmt.Errorf("L1: %w", nats.ErrConnectionClosed)
		case <-recheck.C:
			if len(c.missing(w, true)) > 0 {
				continue
			}
		case <-timeout.C:
			c.metrics.l1Acks.WithLabelValues("timeout").Add(float64(len(c.missing(w, true))))
			if m := c.missing(w, true); len(m) > 0 {
				return fmt.Errorf("L1: no ack within %v from live instances %s", c.cfg.L1AckTimeout, strings.Join(m, ", "))
			}
		}
		c.pendMu.Lock()
		defer c.pendMu.Unlock()
		if len(w.errs) > 0 {
			return fmt.Errorf("L1: %s", strings.Join(w.errs, "; "))
		}
		return nil
	}
}

// missing lists the instances that have not acked, only the live ones if
// liveOnly.
func (c *Coordinator) missing(w *broadcastWait, liveOnly bool) []string {
	now := time.Now()
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	var out []string
	for id, acked := range w.want {
		if !acked && (!liveOnly || c.reg.isLive(id, now)) {
			out = append(out, id)
		}
	}
	return out
}

// finish records the applied ids, queues the CDN purges, records states
// and audit, and acks; failed events are naked with
// backoff or, on their last attempt, dead-lettered.
func (c *Coordinator) finish(items []*item) {
	now := time.Now()
	type appliedRecord struct {
		it *item
		f  jetstream.PubAckFuture
	}
	var futures []appliedRecord
	// unconfirmed: applied, but its applied id is not known to be stored.
	// Waiters watch that record, and a re-publish of the id is dropped as
	// a duplicate, so acking now would leave them waiting for good (seen
	// when the bucket's leader died): it is redelivered instead, and its
	// (idempotent) invalidation applied again until the record is stored.
	unconfirmed := map[*item]bool{}
	for _, it := range items {
		if it.err != nil {
			continue
		}
		unconfirmed[it] = true
		f, err := c.js.PublishAsync("$KV."+AppliedBucket+"."+idToken(it.ev.ID), []byte(now.UTC().Format(time.RFC3339Nano)))
		if err != nil {
			c.log.Warn("applied id not recorded", "id", it.ev.ID, "err", err)
			continue
		}
		futures = append(futures, appliedRecord{it, f})
	}
	parallel(len(items), func(i int) {
		it := items[i]
		if it.err == nil && c.cfg.Queue != nil && c.cfg.Regions.purgesHere(it.origin) {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
			if err := c.cfg.Queue.Enqueue(ctx, it.req); err != nil {
				it.fail("queue", fmt.Errorf("purge queue: %w", err))
			}
			cancel()
		}
		c.record(it, now)
	})
	deadline := time.NewTimer(c.cfg.CallTimeout)
	defer deadline.Stop()
wait:
	for _, r := range futures {
		select {
		case <-r.f.Ok():
			delete(unconfirmed, r.it)
		case err := <-r.f.Err():
			c.log.Warn("applied id not recorded", "err", err)
		case <-deadline.C:
			c.log.Warn("applied ids not confirmed in time")
			break wait
		case <-c.ctx.Done():
			break wait
		case <-c.connClosed:
			break wait
		}
	}
	for _, it := range items {
		if it.err == nil && unconfirmed[it] {
			delay := c.backoff(it.meta.NumDelivered)
			c.log.Warn("event applied but its applied id not stored; applying again", "id", it.ev.ID, "retry_in", delay)
			_ = it.msg.NakWithDelay(delay)
			continue
		}
		if it.err == nil {
			if it.partial != "" {
				c.keepUnmapped(it)
			}
			_ = it.msg.Ack()
			c.metrics.processed.Inc()
			continue
		}
		c.metrics.failed.WithLabelValues(it.stage).Inc()
		if errors.Is(it.err, invalidation.ErrInvalid) && !it.shared {
			// The layer refused this event's own request: no retry can
			// help. (Merged with others, it is retried alone first.)
			c.deadLetter(it, it.ev.ID, it.ev.Tenant, fmt.Sprintf("refused by %s: %v", it.stage, it.err), "invalid")
			continue
		}
		// Anything else is transient (a layer down, an instance not
		// acking): retried until it succeeds, however long that takes.
		delay := c.backoff(it.meta.NumDelivered)
		if n := it.meta.NumDelivered; n <= 3 || n%20 == 0 {
			c.log.Warn("event failed; retrying", "id", it.ev.ID, "attempt", n, "retry_in", delay, "err", it.err)
		}
		_ = it.msg.NakWithDelay(delay)
	}
}

// Targets are the gateway's layers an event is applied to, as purge states
// name them: L1, and L2 when there is a shared layer.
func (c *Coordinator) Targets() []string {
	if c.cfg.Shared != nil {
		return []string{purge.TargetL1, purge.TargetL2}
	}
	return []string{purge.TargetL1}
}

// record writes the states and the audit entry of a processed attempt,
// side by side: each is a round trip to JetStream, and at a steady trickle
// of events (batches of one) waiting for each in turn made the ack of an
// event wait for all of them in series.
func (c *Coordinator) record(it *item, now time.Time) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	var wg sync.WaitGroup
	if c.cfg.States != nil {
		for _, target := range c.Targets() {
			st := purge.State{Status: purge.StatusApplied, Attempts: int(it.meta.NumDelivered), Updated: now}
			if it.err != nil && (it.stage == target || target == purge.TargetL1 && it.stage == purge.TargetL2) {
				st.Status, st.Detail = purge.StatusRetrying, it.err.Error()
			}
			wg.Go(func() { c.setState(ctx, it.ev.ID, target, st) })
		}
	}
	// The audit log gets the outcome, and the first failure of an event
	// that is retried: not one entry per retry of a long outage.
	if c.cfg.Audit != nil && (it.err == nil || it.meta.NumDelivered == 1) {
		result := "applied"
		if it.err != nil {
			result = "retrying: " + it.err.Error()
		}
		if err := c.cfg.Audit.Record(ctx, c.auditEntry(it.ev, it.req, result)); err != nil {
			c.metrics.failed.WithLabelValues("audit").Inc()
			c.log.Warn("audit not recorded", "id", it.ev.ID, "err", err)
		}
	}
	wg.Wait()
}

// setState writes one purge state, retrying once with a fresh timeout: the
// event is acked regardless, and a lost state makes GET
// /api/v1/purges/<id> answer 404 for an applied event.
func (c *Coordinator) setState(ctx context.Context, id, target string, st purge.State) {
	err := c.cfg.States.SetState(ctx, id, target, st)
	if err == nil {
		return
	}
	if c.ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
		err = c.cfg.States.SetState(rctx, id, target, st)
		cancel()
		if err == nil {
			return
		}
	}
	c.metrics.failed.WithLabelValues("state").Inc()
	c.log.Warn("purge state not recorded; its status lookup will miss", "id", id, "target", target, "err", err)
}

func (c *Coordinator) auditEntry(ev Event, req invalidation.Request, result string) audit.Entry {
	action := "event"
	if ev.Type == TypePurge {
		action = "purge"
	}
	return audit.Entry{Actor: "event:" + ev.ID, Action: action, ID: ev.ID, Tenant: ev.Tenant,
		Tags: req.Tags, URLs: req.URLs, Prefixes: req.Prefixes, Everything: req.Everything, Result: result}
}

// notify tells a PublishAndWait caller, if any, what became of id.
func (c *Coordinator) notify(id, errText string) {
	c.notifyNote(appliedNote{ID: id, Error: errText})
}

func (c *Coordinator) notifyNote(n appliedNote) {
	b, _ := json.Marshal(n)
	if err := c.nc.Publish(appliedSubject(n.ID), b); err != nil {
		c.log.Debug("applied notification not sent", "id", n.ID, "err", err)
	}
}

// parallel runs f(0..n-1) on up to sideEffects goroutines.
func parallel(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, sideEffects) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}
