package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/web"
)

// webAdapters gives the admin API the event, purge and dead-letter
// operations in its own terms, mapping the packages' errors to web's.
type webAdapters struct {
	publisher  *events.Publisher
	states     *purge.States
	audit      *audit.Log
	coord      *events.Coordinator
	queue      *purge.Queue      // nil without a CDN
	dispatcher *purge.Dispatcher // nil without a CDN
}

var (
	_ web.EventSubmitter  = (*webAdapters)(nil)
	_ web.Purger          = (*webAdapters)(nil)
	_ web.DeadLetterStore = (*webAdapters)(nil)
	_ web.EventBacklog    = (*webAdapters)(nil)
	_ web.FailedPurges    = (*webAdapters)(nil)
	_ web.PurgeBacklog    = (*webAdapters)(nil)
)

// maxDeadLetterBody bounds the body shown per dead letter.
const maxDeadLetterBody = 4096

func (w *webAdapters) SubmitEvent(ctx context.Context, body []byte, wait bool, actor string) (string, error) {
	ev, err := events.ParseEvent(body)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	return w.publish(ctx, ev, wait, actor, "event")
}

// partBytes bounds the tags, URLs and prefixes of one purge message: the
// event path caps a message at events.MaxEventSize, and the rest of the
// event (id, tenant, type, time) and the purge queue's envelope need room.
const partBytes = events.MaxEventSize * 3 / 4

// Purge sends an admin purge down the same path as events: the
// coordinator applies it to L2 and every L1 and queues it for the CDN. A
// purge too large for one message (the API takes up to
// invalidation.MaxItems items, about twice what fits) goes as several
// under one id: the parts are recorded first, so that its state reads as
// one, and a wait waits for every part.
func (w *webAdapters) Purge(ctx context.Context, req invalidation.Request, wait bool, actor string) (string, error) {
	if err := req.Validate(); err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	if req.ID == "" {
		req.ID = events.NewID()
	}
	parts := purge.SplitRequest(req, partBytes)
	if len(parts) == 1 {
		return w.publishPurge(ctx, req, wait, actor)
	}
	if last := parts[len(parts)-1].ID; len(last) > events.MaxIDLength {
		return "", fmt.Errorf("%w: id %q is too long for a purge sent in %d parts (at most %d characters with the part number)",
			web.ErrBadRequest, req.ID, len(parts), events.MaxIDLength)
	}
	ids := make([]string, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	if err := w.states.SetParts(ctx, req.ID, ids); err != nil {
		return "", err
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { _, errs[i] = w.publishPurge(ctx, p, wait, actor) })
	}
	wg.Wait()
	// "Visible, L2 pending" holds for the whole only when no part did
	// worse.
	var worse []error
	var pending error
	for _, err := range errs {
		switch {
		case errors.Is(err, web.ErrL2Pending):
			pending = err
		case err != nil:
			worse = append(worse, err)
		}
	}
	if len(worse) > 0 {
		return req.ID, errors.Join(worse...)
	}
	return req.ID, pending
}

// publishPurge publishes one purge message and, once JetStream holds it,
// records it as queued where the coordinator has not recorded it yet: the
// answer's id is then never unknown to GET /api/v1/purges/{id}, and a purge
// that was not accepted is never shown as queued.
func (w *webAdapters) publishPurge(ctx context.Context, req invalidation.Request, wait bool, actor string) (string, error) {
	id, err := w.publish(ctx, purgeEvent(req), wait, actor, "purge")
	if err != nil && !errors.Is(err, web.ErrL2Pending) && !errors.Is(err, web.ErrTimeout) {
		return id, err
	}
	if serr := w.states.Accepted(context.WithoutCancel(ctx), req.ID, w.coord.Targets()); serr != nil {
		return id, errors.Join(err, fmt.Errorf("purge %s accepted, its state not recorded: %w", req.ID, serr))
	}
	return id, err
}

// purgeEvent is the event an admin purge travels as.
func purgeEvent(req invalidation.Request) events.Event {
	return events.Event{
		ID: req.ID, Tenant: req.Tenant, Type: events.TypePurge,
		Tags: req.Tags, URLs: req.URLs, Prefixes: req.Prefixes, Everything: req.Everything, Soft: req.Soft,
	}
}

func (w *webAdapters) publish(ctx context.Context, ev events.Event, wait bool, actor, action string) (string, error) {
	if ev.ID == "" {
		ev.ID = events.NewID()
	}
	if err := ev.Validate(); err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	if err := w.publisher.Connected(); err != nil {
		return ev.ID, fmt.Errorf("%w: %v; send it again (the same id is deduplicated)", web.ErrNotAccepted, err)
	}
	_ = w.audit.Record(ctx, audit.Entry{
		Actor: actor, Action: action + ".requested", ID: ev.ID, Tenant: ev.Tenant,
		Tags: ev.Tags, URLs: ev.URLs, Prefixes: ev.Prefixes, Everything: ev.Everything, Result: "accepted",
	})
	var id string
	var err error
	if wait {
		id, err = w.publisher.PublishAndWait(ctx, ev)
	} else {
		id, err = w.publisher.Publish(ctx, ev)
	}
	switch {
	case errors.Is(err, events.ErrInvalidEvent):
		return id, fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	case errors.Is(err, events.ErrDeadLettered):
		// The coordinator could not use it (e.g. a rule needs a data field
		// it lacks): the caller's event is at fault, and it is listed with
		// the reason among the dead letters, to edit and retry.
		return id, fmt.Errorf("%w: %v (see GET /api/v1/deadletters)", web.ErrBadRequest, err)
	case errors.Is(err, events.ErrL2Pending):
		return id, fmt.Errorf("%w: %v", web.ErrL2Pending, err)
	case errors.Is(err, events.ErrApplyTimeout):
		return id, fmt.Errorf("%w: %v", web.ErrTimeout, err)
	case errors.Is(err, events.ErrNotAccepted):
		return id, fmt.Errorf("%w: %v; publish it again (the same id is deduplicated)", web.ErrNotAccepted, err)
	}
	return id, err
}

func (w *webAdapters) EventBacklog() web.EventBacklogSample {
	b := w.coord.Backlog()
	return web.EventBacklogSample{Events: b.Events, OldestSeconds: b.Oldest.Seconds(), L2Pending: b.L2Pending}
}

func (w *webAdapters) PurgeState(ctx context.Context, id string) (map[string]purge.State, error) {
	st, err := w.states.Get(ctx, id)
	if errors.Is(err, purge.ErrNotFound) {
		return nil, fmt.Errorf("%w: purge %q", web.ErrNotFound, id)
	}
	return st, err
}

func (w *webAdapters) FailedPurges(ctx context.Context, n int) ([]purge.Failure, error) {
	fails, err := w.states.Failed(ctx, "")
	if err != nil {
		return nil, err
	}
	return fails[:min(n, len(fails))], nil
}

func (w *webAdapters) RetryPurge(ctx context.Context, id string) error {
	err := w.queue.RetryFailedParts(ctx, id)
	if errors.Is(err, purge.ErrNotFound) {
		return fmt.Errorf("%w: no failed purge %q", web.ErrNotFound, id)
	}
	return err
}

func (w *webAdapters) DismissPurge(ctx context.Context, id string) error {
	err := w.states.DismissAll(ctx, id)
	if errors.Is(err, purge.ErrNotFound) {
		return fmt.Errorf("%w: no failed purge %q", web.ErrNotFound, id)
	}
	return err
}

func (w *webAdapters) PurgeBacklog(ctx context.Context) (purge.Backlog, error) {
	return w.dispatcher.Backlog(ctx)
}

func (w *webAdapters) DeadLetters(ctx context.Context, n int) ([]web.DeadLetter, error) {
	dls, err := w.coord.DeadLetters(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]web.DeadLetter, len(dls))
	for i, d := range dls {
		body := d.Data
		if len(body) > maxDeadLetterBody {
			body = body[:maxDeadLetterBody]
		}
		out[i] = web.DeadLetter{Seq: d.Seq, Time: d.Time, Subject: d.Subject, Reason: d.Reason, Body: string(body)}
	}
	return out, nil
}

func (w *webAdapters) RetryDeadLetter(ctx context.Context, seq uint64) error {
	err := w.coord.RetryDeadLetter(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: dead letter %d", web.ErrNotFound, seq)
	}
	return err
}

// routeTTLs shows the gateway's learned TTLs to the admin API.
type routeTTLs struct{ gw *gateway.Gateway }

func (r routeTTLs) RouteTTLs() []web.RouteTTL {
	var out []web.RouteTTL
	for _, a := range r.gw.AutoTTLs() {
		out = append(out, web.RouteTTL{
			Route: a.Route, TTLSeconds: a.TTL.Seconds(), MinSeconds: a.Min.Seconds(), MaxSeconds: a.Max.Seconds(), Fraction: a.Fraction,
			Revalidations: a.Revalidations, Changes: a.Changes, EventChanges: a.EventChanges,
			ObservedSeconds: a.Observed.Seconds(), ChangeIntervalSeconds: a.ChangeInterval.Seconds(),
			ReadEverySeconds: a.ReadEvery.Seconds(), Covered: a.Covered, Reason: a.Reason,
		})
	}
	return out
}
