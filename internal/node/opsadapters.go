package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/web"
)

// inspector gives the admin API the gateway's view of one URL or tag.
type inspector struct{ gw *gateway.Gateway }

var (
	_ web.Inspector        = inspector{}
	_ web.DeadLetterEditor = (*webAdapters)(nil)
)

func (i inspector) Inspect(ctx context.Context, rawURL string, h http.Header) (any, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	// The request the gateway would see: origin-form target, the URL's
	// host as Host.
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u.RequestURI(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	r.Host, r.RequestURI, r.Header = u.Host, u.RequestURI(), h
	in, err := i.gw.Inspect(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	return in, nil
}

func (i inspector) KeysByTag(ctx context.Context, tenant, tag string, limit int) ([]string, bool, error) {
	return i.gw.KeysByTag(ctx, tenant, tag, limit)
}

// EditDeadLetter publishes the corrected event with a new id, then drops
// the dead letter: published first, so that a failure in between leaves
// both (a duplicate invalidation, harmless) rather than neither.
func (w *webAdapters) EditDeadLetter(ctx context.Context, seq uint64, body []byte, actor string) (string, error) {
	ev, err := events.ParseEvent(body)
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	if err := w.existsDeadLetter(ctx, seq); err != nil {
		return "", err
	}
	ev.ID = events.NewID()
	id, err := w.publish(ctx, ev, false, actor, "deadletter.edited")
	if err != nil {
		return id, err
	}
	if err := w.coord.DiscardDeadLetter(ctx, seq); err != nil {
		return id, fmt.Errorf("published as %s, but dead letter %d was not removed: %w", id, seq, err)
	}
	return id, nil
}

// existsDeadLetter is ErrNotFound for a seq that is not a dead letter, so
// that an edit of a stale listing publishes nothing.
func (w *webAdapters) existsDeadLetter(ctx context.Context, seq uint64) error {
	_, err := w.coord.DeadLetter(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: dead letter %d", web.ErrNotFound, seq)
	}
	return err
}

// DiscardDeadLetter reads seq first: the server's answer to deleting a
// message that is not there is no "not found" but a generic failure.
func (w *webAdapters) DiscardDeadLetter(ctx context.Context, seq uint64) error {
	if err := w.existsDeadLetter(ctx, seq); err != nil {
		return err
	}
	return w.coord.DiscardDeadLetter(ctx, seq)
}
