package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/web"
)

// webAdapters gives the admin API the event, purge and dead-letter
// operations in its own terms, mapping the packages' errors to web's.
type webAdapters struct {
	publisher *events.Publisher
	states    *purge.States
	audit     *audit.Log
	coord     *events.Coordinator
}

var (
	_ web.EventSubmitter  = (*webAdapters)(nil)
	_ web.Purger          = (*webAdapters)(nil)
	_ web.DeadLetterStore = (*webAdapters)(nil)
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

// Purge sends an admin purge down the same path as events: the
// coordinator applies it to L2 and every L1 and queues it for the CDN.
func (w *webAdapters) Purge(ctx context.Context, req invalidation.Request, wait bool, actor string) (string, error) {
	if err := req.Validate(); err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	ev := events.Event{
		ID: req.ID, Tenant: req.Tenant, Type: events.TypePurge,
		Tags: req.Tags, URLs: req.URLs, Prefixes: req.Prefixes, Everything: req.Everything,
	}
	if ev.ID == "" {
		ev.ID = events.NewID()
	}
	return w.publish(ctx, ev, wait, actor, "purge")
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
	case errors.Is(err, events.ErrL2Pending):
		return id, fmt.Errorf("%w: %v", web.ErrL2Pending, err)
	case errors.Is(err, events.ErrApplyTimeout):
		return id, fmt.Errorf("%w: %v", web.ErrTimeout, err)
	case errors.Is(err, events.ErrNotAccepted):
		return id, fmt.Errorf("%w: %v; publish it again (the same id is deduplicated)", web.ErrNotAccepted, err)
	}
	return id, err
}

func (w *webAdapters) PurgeState(ctx context.Context, id string) (map[string]purge.State, error) {
	st, err := w.states.Get(ctx, id)
	if errors.Is(err, purge.ErrNotFound) {
		return nil, fmt.Errorf("%w: purge %q", web.ErrNotFound, id)
	}
	return st, err
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
