package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultEmbeddedListen is where the embedded server listens by default.
const DefaultEmbeddedListen = "127.0.0.1:4222"

// EmbeddedConfig configures the embedded NATS server.
type EmbeddedConfig struct {
	// Listen is host:port for clients; "" means DefaultEmbeddedListen,
	// port 0 any free port, an empty host every interface.
	Listen string
	// StoreDir holds the JetStream store (e.g. "<data dir>/nats"); required.
	StoreDir string
}

// Validate reports a configuration StartEmbedded would refuse.
func (c EmbeddedConfig) Validate() error {
	if c.StoreDir == "" {
		return errors.New("events: embedded NATS needs a store directory")
	}
	if c.Listen != "" {
		if _, _, err := splitListen(c.Listen); err != nil {
			return err
		}
	}
	return nil
}

func splitListen(listen string) (string, int, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("events: embedded NATS listen %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("events: embedded NATS listen %q: bad port", listen)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// Embedded is an in-process NATS server with JetStream, for deployments
// (and the demo) without one of their own. Apps reach it on its port like
// any NATS server.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts the server and returns once it accepts clients.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultEmbeddedListen
	}
	host, port, _ := splitListen(cfg.Listen)
	srv, err := server.NewServer(&server.Options{
		ServerName: "cachegate",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("events: embedded NATS: %w", err)
	}
	go srv.Start()
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !srv.ReadyForConnections(deadline) {
		srv.Shutdown()
		return nil, fmt.Errorf("events: embedded NATS on %s not ready within %v", cfg.Listen, deadline)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, errors.New("events: embedded NATS started without JetStream")
	}
	return &Embedded{srv: srv}, nil
}

// URL is the client URL, e.g. nats://127.0.0.1:4222 (the bound port when
// 0 was asked for).
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Addr is the address actually bound.
func (e *Embedded) Addr() net.Addr { return e.srv.Addr() }

// Shutdown stops the server and waits for it; JetStream data stays in the
// store directory.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
