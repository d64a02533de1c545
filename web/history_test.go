package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/stats"
)

func snapAt(rec *stats.Recorder, t time.Time) stats.Snapshot {
	s := rec.Snapshot()
	s.Time = t
	return s
}

func TestHistoryBuckets(t *testing.T) {
	rec := stats.New()
	h := newHistory(3, 2)
	t0 := time.Unix(1000, 0)
	if _, ok := h.observe(snapAt(rec, t0), 5*time.Second); ok {
		t.Fatal("the first snapshot closed a bucket")
	}
	for i := 0; i < 8; i++ {
		rec.Begin("acme", "/a", "/a").Hit(stats.L1)
	}
	q := rec.Begin("berg", "/b", "/b")
	q.Miss(stats.L1)
	q.Forwarded()
	rec.Begin("c", "/c", "/c").Hit(stats.L2)
	if _, ok := h.observe(snapAt(rec, t0.Add(time.Second)), 5*time.Second); ok {
		t.Fatal("a bucket closed before its interval")
	}
	s, ok := h.observe(snapAt(rec, t0.Add(5*time.Second)), 5*time.Second)
	if !ok {
		t.Fatal("no bucket after the interval")
	}
	if s.Requests != 10 || s.Seconds != 5 || s.Layers[stats.L1] != (LayerDelta{Hits: 8, Misses: 1}) || s.Layers[stats.Origin].Hits != 1 {
		t.Fatalf("sample %+v", s)
	}
	// Only the two busiest tenants get a series.
	if len(s.Tenants) != 2 || s.Tenants["acme"] != (Point{8, 0}) || s.Tenants["berg"] != (Point{1, 1}) {
		t.Fatalf("tenants %+v", s.Tenants)
	}
	// The next bucket holds only what came after.
	rec.Begin("acme", "/a", "/a").Hit(stats.L1)
	s, _ = h.observe(snapAt(rec, t0.Add(10*time.Second)), 5*time.Second)
	if s.Requests != 1 || len(s.Tenants) != 1 {
		t.Fatalf("second sample %+v", s)
	}
	// The ring keeps the newest buckets, oldest first.
	for i := 3; i <= 5; i++ {
		h.observe(snapAt(rec, t0.Add(time.Duration(i)*5*time.Second)), 5*time.Second)
	}
	got := h.samples()
	if len(got) != 3 || !got[0].Time.Equal(t0.Add(15*time.Second)) || !got[2].Time.Equal(t0.Add(25*time.Second)) {
		t.Fatalf("ring holds %d samples from %v", len(got), got[0].Time)
	}
}

func TestHistoryCounterReset(t *testing.T) {
	if delta(10, 4) != 6 || delta(3, 10) != 3 {
		t.Fatal("delta")
	}
}

func TestLiveRowsBounded(t *testing.T) {
	rec := stats.New()
	for i := 0; i < LiveRows+15; i++ {
		for j := 0; j <= i; j++ {
			rec.Begin(fmt.Sprintf("t%02d", i), "/", "/").Hit(stats.L1)
		}
	}
	l := newHistory(1, 1).live(rec.Snapshot())
	if len(l.Tenants) != LiveRows || l.TenantCount != LiveRows+15 || l.Tenants[0].Name != fmt.Sprintf("t%02d", LiveRows+14) {
		t.Fatalf("live rows: %d of %d, first %q", len(l.Tenants), l.TenantCount, l.Tenants[0].Name)
	}
}

type sse struct {
	event string
	data  string
}

// readEvents sends the server-sent events of resp to a channel.
func readEvents(resp *http.Response) <-chan sse {
	ch := make(chan sse, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		var ev sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.event != "":
				ch <- ev
				ev = sse{}
			}
		}
	}()
	return ch
}

func openStream(t *testing.T, e *env, opts ...reqOpt) <-chan sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/v1/stream", nil)
	for _, o := range opts {
		o(req)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return readEvents(resp)
}

// awaitEvent reads events until match accepts one.
func awaitEvent(t *testing.T, ch <-chan sse, what string, match func(sse) bool) sse {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s within 10s", what)
		}
	}
}

func TestStream(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.LiveInterval = 10 * time.Millisecond
		c.SampleInterval = 30 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	events := openStream(t, e, bearer(testToken))
	first := awaitEvent(t, events, "a first live event", func(ev sse) bool { return ev.event == "live" })
	var l Live
	if err := json.Unmarshal([]byte(first.data), &l); err != nil || l.Requests != 0 {
		t.Fatalf("first live event %s: %v", first.data, err)
	}
	for i := 0; i < 3; i++ {
		e.rec.Begin("acme", "/", "/").Hit(stats.L1)
	}
	// The sample with the hits may come before or after the live figures
	// that show them: await both in one pass over the stream.
	var liveSeen, sampleSeen bool
	awaitEvent(t, events, "live figures and a history sample with the new hits", func(ev sse) bool {
		var l Live
		var s Sample
		switch {
		case ev.event == "live" && json.Unmarshal([]byte(ev.data), &l) == nil:
			liveSeen = liveSeen || l.Requests == 3 && l.HitRatio == 1 && len(l.Tenants) == 1 && l.Tenants[0].Name == "acme"
		case ev.event == "sample" && json.Unmarshal([]byte(ev.data), &s) == nil:
			sampleSeen = sampleSeen || s.Layers[stats.L1].Hits > 0
		}
		return liveSeen && sampleSeen
	})
	code, _, b := e.do(t, "GET", "/api/v1/history", "", bearer(testToken))
	h := decode[HistoryResponse](t, b)
	var total uint64
	for _, s := range h.Samples {
		total += s.Requests
	}
	if code != 200 || total != 3 || h.IntervalSeconds != 0.03 || h.WindowSeconds != 3600 {
		t.Fatalf("history: %d, %d requests, %+v", code, total, h)
	}
}

// A dashboard's stream ends when its session is logged out.
func TestStreamEndsOnLogout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LiveInterval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.srv.Run(ctx) }()
	defer func() { cancel(); <-done }()

	_, c := login(t, e, testToken)
	csrf := dashboardCSRF(t, e, c)
	events := openStream(t, e, cookie(c))
	awaitEvent(t, events, "a live event", func(ev sse) bool { return ev.event == "live" })
	e.do(t, "POST", "/logout", "", cookie(c), header(CSRFHeader, csrf))
	awaitEvent(t, events, "the logout event", func(ev sse) bool { return ev.event == "logout" })
	for range events { // the server closes the stream
	}
}

// Stopping the sampler ends open streams, so that a graceful shutdown of
// the listener does not wait for dashboards to go away.
func TestStreamEndsWhenRunStops(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LiveInterval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.srv.Run(ctx) }()
	events := openStream(t, e, bearer(testToken))
	awaitEvent(t, events, "a live event", func(ev sse) bool { return ev.event == "live" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range events { // the server closes the stream
	}
}
