package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/purge"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxDeadLetters bounds one DeadLetters read.
const MaxDeadLetters = 1000

// DeadLetter is an event the coordinator gave up on.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream; RetryDeadLetter takes it.
	Seq uint64 `json:"seq"`
	// ID is the event id ("" when the body had none and no Nats-Msg-Id).
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason"`
	// Subject is the event's original subject.
	Subject string `json:"subject"`
	// Data is the original body, byte for byte.
	Data []byte `json:"data"`
	// Header holds the original headers and the Cachegate-* ones.
	Header     nats.Header `json:"header,omitempty"`
	Time       time.Time   `json:"time"`
	Deliveries int         `json:"deliveries"`
}

// deadLetter moves it's message to the dead-letter stream with the reason,
// the original body and headers, then terminates it; if the stream cannot
// take it, the message is naked and tried again later.
func (c *Coordinator) deadLetter(it *item, eventID, tenant, reason, cause string) {
	m, meta := it.msg, it.meta
	if tenant == "" {
		tenant = "_"
	}
	if err := c.publishDeadLetter(it, eventID, tenant, reason); err != nil {
		c.log.Error("dead-letter publish failed; will retry", "id", eventID, "err", err)
		_ = m.NakWithDelay(c.backoff(meta.NumDelivered))
		return
	}
	_ = m.Term()
	c.deadLettered(it, eventID, tenant, reason, cause)
}

// keepUnmapped keeps a copy of a partially mapped event, applied as far
// as it maps, among the dead letters with what did not map, so that an
// operator can add what it lacks and retry it.
func (c *Coordinator) keepUnmapped(it *item) {
	reason := "applied in part: " + it.partial
	if err := c.publishDeadLetter(it, it.ev.ID, cmp.Or(it.ev.Tenant, "_"), reason); err != nil {
		c.log.Error("the unmapped part of an event could not be kept as a dead letter", "id", it.ev.ID, "reason", reason, "err", err)
		return
	}
	c.metrics.deadLettered.WithLabelValues("partial").Inc()
	c.log.Warn("event applied in part; kept as a dead letter", "id", it.ev.ID, "tenant", it.ev.Tenant, "reason", reason)
}

// publishDeadLetter writes it's message to the dead-letter stream with the
// reason, the original body and headers.
func (c *Coordinator) publishDeadLetter(it *item, eventID, tenant, reason string) error {
	m, meta := it.msg, it.meta
	dl := nats.NewMsg(DeadLetterSubjectPrefix + token(tenant))
	dl.Data = m.Data()
	for k, vs := range m.Headers() {
		// Nats-Stream-Source (an event sourced from another region) is
		// refused on a message that is not being sourced.
		if k == jetstream.MsgIDHeader || k == streamSourceHeader || strings.HasPrefix(k, "Nats-Expected") {
			continue
		}
		dl.Header[k] = append([]string(nil), vs...)
	}
	now := time.Now().UTC()
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
		dl.Header.Set(HeaderMsgID, id)
	}
	if eventID != "" {
		dl.Header.Set(HeaderEventID, eventID)
	}
	dl.Header.Set(HeaderReason, oneLine(reason))
	dl.Header.Set(HeaderSubject, publishedSubject(m.Subject()))
	dl.Header.Set(HeaderSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
	dl.Header.Set(HeaderTime, now.Format(time.RFC3339Nano))
	dl.Header.Set(HeaderDelivered, strconv.FormatUint(meta.NumDelivered, 10))
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	// The dead-letter id is the original sequence: a crash between this
	// publish and the message's Term or Ack does not dead-letter it twice.
	_, err := c.js.PublishMsg(ctx, dl, jetstream.WithMsgID("dl-"+strconv.FormatUint(meta.Sequence.Stream, 10)))
	return err
}

// deadLettered counts, logs, notifies and records a dead-lettered event.
func (c *Coordinator) deadLettered(it *item, eventID, tenant, reason, cause string) {
	now := time.Now().UTC()
	m, meta := it.msg, it.meta
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	c.metrics.deadLettered.WithLabelValues(cause).Inc()
	// What is known of a message that may not even parse: where it came
	// from, its ids, its size; not its body, which may hold anything.
	c.log.Warn("event dead-lettered", "id", eventID, "tenant", tenant, "cause", cause, "reason", reason,
		"subject", publishedSubject(m.Subject()), "subject_tenant", subjectTenant(publishedSubject(m.Subject())),
		"msg_id", m.Headers().Get(jetstream.MsgIDHeader), "seq", meta.Sequence.Stream,
		"deliveries", meta.NumDelivered, "bytes", len(m.Data()))
	if eventID == "" {
		return
	}
	c.notify(eventID, reason)
	if c.cfg.States != nil {
		for _, target := range []string{purge.TargetL1, purge.TargetL2} {
			st := purge.State{Status: purge.StatusFailed, Detail: reason, Attempts: int(meta.NumDelivered), Updated: now}
			if err := c.cfg.States.SetState(ctx, eventID, target, st); err != nil {
				c.log.Warn("state not recorded", "id", eventID, "err", err)
			}
		}
	}
	if c.cfg.Audit != nil {
		e := c.auditEntry(it.ev, it.req, "failed: "+reason)
		e.ID, e.Actor, e.Action, e.Tenant = eventID, "event:"+eventID, "event.dead_letter", strings.TrimPrefix(tenant, "_")
		if err := c.cfg.Audit.Record(ctx, e); err != nil {
			c.log.Warn("audit not recorded", "id", eventID, "err", err)
		}
	}
}

// oneLine keeps a reason valid as a header value.
func oneLine(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// DeadLetters returns up to n dead letters, newest first.
func (c *Coordinator) DeadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	if c.dead == nil {
		return nil, errors.New("events: coordinator not opened (Open or Start)")
	}
	if n <= 0 || n > MaxDeadLetters {
		n = MaxDeadLetters
	}
	info, err := c.dead.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("events: dead-letter stream info: %w", err)
	}
	out := make([]DeadLetter, 0, min(n, int(info.State.Msgs)))
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(out) < n; seq-- {
		m, err := c.dead.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("events: read dead letter %d: %w", seq, err)
		}
		out = append(out, toDeadLetter(m))
	}
	return out, nil
}

func toDeadLetter(m *jetstream.RawStreamMsg) DeadLetter {
	d := DeadLetter{
		Seq: m.Sequence, ID: m.Header.Get(HeaderEventID), Reason: m.Header.Get(HeaderReason),
		Subject: m.Header.Get(HeaderSubject), Data: m.Data, Header: m.Header, Time: m.Time,
	}
	if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderTime)); err == nil {
		d.Time = t
	}
	d.Deliveries, _ = strconv.Atoi(m.Header.Get(HeaderDelivered))
	return d
}

// RetryDeadLetter publishes dead letter seq to its original subject again,
// with a fresh message id so the duplicate window does not drop it, and
// removes it from the dead-letter stream.
func (c *Coordinator) RetryDeadLetter(ctx context.Context, seq uint64) error {
	if c.dead == nil {
		return errors.New("events: coordinator not opened (Open or Start)")
	}
	m, err := c.dead.GetMsg(ctx, seq)
	if err != nil {
		return fmt.Errorf("events: dead letter %d: %w", seq, err)
	}
	d := toDeadLetter(m)
	// Published here again, a sourced event becomes one of this region's.
	subject := SubjectPrefix + "_._"
	if _, rest, ok := splitSubject(d.Subject); ok {
		subject = SubjectPrefix + rest
	}
	msg := nats.NewMsg(subject)
	msg.Data = d.Data
	for k, vs := range d.Header {
		if strings.HasPrefix(k, "Cachegate-") || strings.HasPrefix(k, "Nats-") {
			continue
		}
		msg.Header[k] = vs
	}
	// Keep the event id for a body without one, and restart the latency clock.
	if id := d.Header.Get(HeaderMsgID); id != "" {
		msg.Header.Set(HeaderMsgID, id)
	}
	msg.Header.Set(HeaderPublished, strconv.FormatInt(time.Now().UnixNano(), 10))
	if _, err := c.js.PublishMsg(ctx, msg, jetstream.WithMsgID("retry-"+NewID()), jetstream.WithExpectStream(StreamName)); err != nil {
		return fmt.Errorf("events: retry dead letter %d: %w", seq, err)
	}
	if err := c.dead.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("events: retried dead letter %d, but not removed: %w", seq, err)
	}
	return nil
}

// DiscardDeadLetter deletes dead letter seq without retrying it (an event
// that can never apply, or one retried in an edited form). The server
// answers an unknown seq with a generic failure: DeadLetter tells.
func (c *Coordinator) DiscardDeadLetter(ctx context.Context, seq uint64) error {
	if c.dead == nil {
		return errors.New("events: coordinator not opened (Open or Start)")
	}
	if err := c.dead.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("events: discard dead letter %d: %w", seq, err)
	}
	return nil
}

// DeadLetter returns dead letter seq; an unknown seq is an error wrapping
// jetstream.ErrMsgNotFound.
func (c *Coordinator) DeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	if c.dead == nil {
		return DeadLetter{}, errors.New("events: coordinator not opened (Open or Start)")
	}
	m, err := c.dead.GetMsg(ctx, seq)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("events: dead letter %d: %w", seq, err)
	}
	return toDeadLetter(m), nil
}
