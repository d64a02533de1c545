package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/events/outbox"
	"github.com/cachegate/cachegate/internal/node"
)

// runOrigin runs the demo origin on its own (as docker-compose does),
// publishing company.updated (gallery.updated) on NATS when a company's
// description (gallery) is edited.
func runOrigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("origin", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address of the demo origin")
	natsURL := fs.String("nats-url", envOr("CACHEGATE_NATS_URL", ""), "NATS URL to publish edits on (CACHEGATE_NATS_URL; none: edits are not announced)")
	latency := fs.Duration("latency", origin.DefaultLatency, "artificial latency of every page (0: none)")
	var auth config.NATS
	registerNATSAuth(fs, &auth)
	outboxDir := fs.String("outbox", envOr("CACHEGATE_OUTBOX", ""), "directory of a durable local outbox for edits announced while NATS is unreachable (CACHEGATE_OUTBOX; none: such an edit is reported not announced)")
	inbox := fs.String("nats-inbox-prefix", envOr("CACHEGATE_NATS_INBOX_PREFIX", ""), "reply subject prefix instead of _INBOX, e.g. _INBOX_acme for app credentials (CACHEGATE_NATS_INBOX_PREFIX)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	esi := fs.Bool("esi", true, "serve the profile page as an ESI shell with gallery and listings fragments (false: one whole page)")
	var onEdit func(context.Context, string, string) error
	var onGalleryEdit func(context.Context, string) error
	if *natsURL != "" {
		c := config.NATS{URL: *natsURL}
		applyNATSAuth(&c, auth)
		cc := c.Conn()
		cc.Name, cc.InboxPrefix = "cachegate-demo-origin", *inbox
		if err := cc.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		nc, err := events.Connect(ctx, cc, nats.RetryOnFailedConnect(true))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		// An app's credentials may not declare streams (the serve
		// processes do); publishing works once one has.
		if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
			logger.Warn("could not declare the event streams; a serve process must", "err", err)
		}
		// An unanswered publish (a leader election) goes to the outbox
		// after two seconds, not after the whole wait.
		pub, err := events.NewPublisher(js, nc, events.PublisherConfig{AckTimeout: 2 * time.Second})
		if err != nil {
			return err
		}
		var ob *outbox.Outbox
		if *outboxDir != "" {
			if ob, err = outbox.Open(pub, outbox.Config{Dir: *outboxDir, Logger: logger}); err != nil {
				return err
			}
			defer ob.Close()
		}
		onEdit, onGalleryEdit = publishEdit(pub, ob), publishGalleryEdit(pub, ob)
	}
	o, err := origin.New(origin.Config{Latency: originLatency(*latency), ESI: *esi,
		OnEdit: onEdit, OnGalleryEdit: onGalleryEdit, Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("origin listener: %w", err)
	}
	fmt.Fprintf(stdout, "origin listening on %s\n", ln.Addr())
	return serveUntilDone(ctx, ln, o.Handler())
}

// originLatency maps the flag (0 = none) to the origin's Config (0 = default).
func originLatency(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// publishEdit announces a description edit as company.updated and waits
// until the invalidation is applied, so the editor's next page view is
// fresh (publishChange says how).
func publishEdit(pub *events.Publisher, ob *outbox.Outbox) func(ctx context.Context, tenant, description string) error {
	return func(ctx context.Context, tenant, description string) error {
		data, _ := json.Marshal(map[string]string{"description": description})
		return publishChange(ctx, pub, ob, events.Event{
			ID: events.NewID(), Tenant: tenant, Type: "company.updated", Entity: "company", Key: tenant,
			Data: data, OccurredAt: time.Now().UTC(),
		})
	}
}

// publishGalleryEdit announces a gallery edit as gallery.updated with the
// one tag gallery:<tenant>, so that only the gallery (its fragment and its
// images) is refetched: the profile page's shell stays cached.
func publishGalleryEdit(pub *events.Publisher, ob *outbox.Outbox) func(ctx context.Context, tenant string) error {
	return func(ctx context.Context, tenant string) error {
		return publishChange(ctx, pub, ob, events.Event{
			ID: events.NewID(), Tenant: tenant, Type: "gallery.updated", Tags: []string{"gallery:" + tenant},
			OccurredAt: time.Now().UTC(),
		})
	}
}

// publishChange publishes ev and waits until it is applied. With an
// outbox, an event NATS does not take is kept on disk and announced once
// NATS is back. An announcement that is durable but not yet applied
// everywhere wraps origin.ErrNotYetApplied with what the editor can expect.
func publishChange(ctx context.Context, pub *events.Publisher, ob *outbox.Outbox, ev events.Event) error {
	_, err := pub.PublishAndWait(ctx, ev)
	if errors.Is(err, events.ErrNotAccepted) && ob != nil {
		r, oerr := ob.Publish(ctx, ev)
		switch {
		case oerr != nil:
			return fmt.Errorf("%w; the outbox did not take it either: %w", err, oerr)
		case r.Where == outbox.InOutbox:
			return fmt.Errorf("%w: the event bus is unreachable; the change is kept in this host's outbox and announced once it is back, until then cached pages may show the old text", origin.ErrNotYetApplied)
		default: // JetStream took it on the outbox's own try, unawaited
			return fmt.Errorf("%w: announced durably; caches drop the old page in a moment", origin.ErrNotYetApplied)
		}
	}
	switch {
	case errors.Is(err, events.ErrL2Pending):
		return fmt.Errorf("%w: your reload shows the change; Redis is unreachable and drops its old copy once it is back", origin.ErrNotYetApplied)
	case errors.Is(err, events.ErrApplyTimeout):
		return fmt.Errorf("%w: the change is announced durably and is applied as soon as the unreachable layer is back; until then some pages may show the old text", origin.ErrNotYetApplied)
	}
	return err
}

// serveUntilDone serves h on ln until ctx ends, then shuts down gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), node.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
