// Package nodetest starts whole cachegate nodes (internal/node) for the
// cross-package integration tests: several instances sharing one NATS
// server and one Redis, each on its own loopback ports, stopped when the
// test ends. It is the one helper those tests share; the servers
// themselves come from internal/testenv.
package nodetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/node"
)

// Token is the admin token of test nodes.
const Token = "test-admin-token-0123456789"

// Options say what a test node connects to.
type Options struct {
	// NATSURL is the shared NATS server; empty starts an embedded one.
	NATSURL string
	// RedisURL enables the L2 (redis://, or memcached://h1:p1,h2:p2);
	// empty means L1 only.
	RedisURL string
	// Origin is the origin's base URL; required.
	Origin string
	// File is the configuration to start from (nil: an empty one); its
	// listeners, origin, NATS and Redis are set from the options.
	File *config.File
	// Logger; nil logs warnings and errors to stderr.
	Logger *slog.Logger
}

// Node is a running test node.
type Node struct {
	*node.Node
	// URL is the gateway's base URL, AdminURL the admin listener's.
	URL, AdminURL string
	stop          func()
}

// Start builds and runs a node, and stops it when t ends.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	f := o.File
	if f == nil {
		f = &config.File{}
	} else {
		c := *f
		f = &c
	}
	f.Origin = o.Origin
	f.Listen, f.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	f.NATS.URL = o.NATSURL
	if o.NATSURL == "" {
		f.NATS.EmbeddedListen = "127.0.0.1:0"
		f.DataDir = t.TempDir()
	}
	if o.RedisURL != "" {
		f.Redis = config.Redis{URL: config.Secret(o.RedisURL)}
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("node config: %v", err)
	}
	logger := o.Logger
	if logger == nil {
		// CACHEGATE_TEST_LOG=debug (or info) shows more of a node's life
		// when a test is chased.
		level := slog.LevelWarn
		if v := os.Getenv("CACHEGATE_TEST_LOG"); v != "" {
			if err := level.UnmarshalText([]byte(v)); err != nil {
				t.Fatalf("CACHEGATE_TEST_LOG: %v", err)
			}
		}
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.New(ctx, f, Token, logger)
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tn := &Node{Node: n, URL: "http://" + n.GatewayAddr(), AdminURL: "http://" + n.AdminAddr()}
	tn.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("node stopped with: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node did not stop within 30s")
		}
	}
	t.Cleanup(tn.Stop)
	waitReady(t, tn.AdminURL)
	return tn
}

// Stop stops the node (idempotent): a crash-free shutdown.
func (n *Node) Stop() {
	if n.stop != nil {
		n.stop()
		n.stop = nil
	}
}

func waitReady(t testing.TB, adminURL string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(adminURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node at %s not ready: %v", adminURL, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CloudflareZone is the zone of CloudflareYAML's configuration.
const CloudflareZone = "0123456789abcdef0123456789abcdef"

// CloudflareYAML is a configuration with Cloudflare as the CDN, at the
// fake's baseURL with its token, and retries fast enough for tests.
func CloudflareYAML(baseURL, token string) string {
	return fmt.Sprintf(`cdn:
  provider: cloudflare
  coalesce_window: 20ms
  retry_backoff: 20ms
  retry_backoff_max: 100ms
  call_timeout: 500ms
  cloudflare:
    api_token: %s
    base_url: %s
    zone: %s
`, token, baseURL, CloudflareZone)
}

// CloudflareFile is CloudflareYAML parsed.
func CloudflareFile(t testing.TB, baseURL, token string) *config.File {
	t.Helper()
	f, err := config.Parse("cloudflare.yaml", []byte(CloudflareYAML(baseURL, token)), nil)
	if err != nil {
		t.Fatalf("cloudflare config: %v", err)
	}
	return f
}
