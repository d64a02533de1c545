package purge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/prometheus/client_golang/prometheus"
)

// TestBacklogDuringOutage: while the CDN is down the backlog shows the
// waiting purges, their age and the failing provider, in Backlog and in
// the metrics; once it recovers the backlog is empty; a purge refused for
// good is counted as failed and makes the backlog degraded.
func TestBacklogDuringOutage(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	d, err := purge.NewDispatcher(e.queue, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	e.cf.Down(cloudflarefake.Fault{Status: 503, Code: 10000, Message: "Service unavailable"})
	e.enqueue(tagReq("b1", "acme", "company:acme"), tagReq("b2", "berg", "company:berg"))
	var b purge.Backlog
	testenv.WaitFor(t, 10*time.Second, func() error {
		if b, err = d.Backlog(t.Context()); err != nil {
			return err
		}
		cf := b.Providers["cloudflare"]
		if b.Queued != 2 || cf.Pending != 2 || !cf.Failing || !strings.Contains(cf.LastError, "HTTP 503") || cf.OldestSeconds <= 0 || b.OldestSeconds <= 0 {
			return fmt.Errorf("backlog %+v", b)
		}
		return nil
	})
	if bad, why := b.Degraded(); !bad || !strings.Contains(why, "cloudflare") {
		t.Errorf("Degraded() = %v %q during the outage", bad, why)
	}
	got := gathered(t, reg)
	for _, name := range []string{"cachegate_purge_backlog", "cachegate_purge_backlog_oldest_seconds",
		"cachegate_purge_queue_messages", "cachegate_purge_queue_oldest_seconds", "cachegate_purge_failed_current"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no metric %s in %v", name, got)
		}
	}
	if got["cachegate_purge_provider_failing"] != 1 || got["cachegate_purge_backlog"] != 2 || got["cachegate_purge_queue_messages"] != 2 {
		t.Errorf("metrics during the outage: %v", got)
	}

	e.cf.Down(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	testenv.WaitFor(t, 10*time.Second, func() error {
		if b, err = d.Backlog(t.Context()); err != nil {
			return err
		}
		if cf := b.Providers["cloudflare"]; b.Queued != 0 || cf.Pending != 0 || cf.Failing || b.Failed != 2 {
			return fmt.Errorf("backlog %+v", b)
		}
		return nil
	})
	if bad, why := b.Degraded(); !bad || !strings.Contains(why, "2 purges failed") {
		t.Errorf("Degraded() = %v %q with two failed purges", bad, why)
	}
	e.cf.Up()
	for _, id := range []string{"b1", "b2"} {
		if err := e.queue.RetryFailed(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if b, err = d.Backlog(t.Context()); err != nil {
			return err
		}
		if bad, why := b.Degraded(); bad || b.Queued != 0 {
			return fmt.Errorf("backlog %+v: %s", b, why)
		}
		return nil
	})
	if err := e.queue.RetryFailed(t.Context(), "b1"); !errors.Is(err, purge.ErrNotFound) {
		t.Errorf("RetryFailed of a delivered purge: %v, want ErrNotFound", err)
	}
}
