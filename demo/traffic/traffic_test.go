package traffic_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/demo/traffic"
	"github.com/cachegate/cachegate/internal/testenv"
)

// seen is one request the test server received.
type seen struct {
	at                                    time.Time
	method, host, path, lang, inm, cookie string
	auth                                  string
	status                                int
}

// recording serves the real demo origin and remembers every request.
type recording struct {
	mu   sync.Mutex
	reqs []seen
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (rec *recording) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{at: time.Now(), method: r.Method, host: r.Host, path: r.URL.Path,
			lang: r.Header.Get("Accept-Language"), inm: r.Header.Get("If-None-Match"), cookie: r.Header.Get("Cookie"),
			auth: r.Header.Get("Authorization"), status: sw.status})
		rec.mu.Unlock()
	})
}

func (rec *recording) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func originServer(t *testing.T) (*recording, *httptest.Server) {
	t.Helper()
	o, err := origin.New(origin.Config{Latency: -1})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recording{}
	srv := httptest.NewServer(rec.wrap(o.Handler()))
	t.Cleanup(srv.Close)
	return rec, srv
}

// runFor runs the generator until stop says so, and returns how long it ran.
func runFor(t *testing.T, cfg traffic.Config, stop func() bool) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- traffic.Run(ctx, cfg) }()
	testenv.WaitFor(t, 30*time.Second, func() error {
		if !stop() {
			return errNotYet
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	return time.Since(start)
}

var errNotYet = errors.New("not yet")

func TestMixSpreadsOverTenantsLocalesAndPages(t *testing.T) {
	rec, srv := originServer(t)
	cfg := traffic.Config{Target: srv.URL, Tenants: []string{"acme", "berg", "cirrus"}, Rate: 400, EditEvery: 50 * time.Millisecond}
	runFor(t, cfg, func() bool { return len(rec.all()) >= 300 })

	reqs := rec.all()
	tenants, langs, paths := map[string]int{}, map[string]int{}, map[string]int{}
	var conditional, notModified, accounts, edits int
	editPaths := map[string]int{}
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, r := range reqs {
		tenant, ok := strings.CutSuffix(r.host, ".localhost"+port)
		if !ok {
			t.Fatalf("Host %q is not <tenant>.localhost%s", r.host, port)
		}
		tenants[tenant]++
		langs[r.lang[:2]]++
		paths[r.path]++
		if r.inm != "" {
			conditional++
			if r.status == http.StatusNotModified {
				notModified++
			}
		}
		if r.path == "/account" {
			accounts++
			if !strings.HasPrefix(r.cookie, "sessionid=") || r.status != 200 {
				t.Errorf("account visit with cookie %q got %d", r.cookie, r.status)
			}
		}
		if r.method == http.MethodPost {
			edits++
			editPaths[r.path]++
			if r.path != "/edit" && r.path != "/edit/gallery" || r.auth != "Bearer demo-editor" || r.status != 200 {
				t.Errorf("edit %s %s auth %q got %d", r.method, r.path, r.auth, r.status)
			}
		} else if r.status >= 400 {
			t.Errorf("%s %s%s got %d", r.method, r.host, r.path, r.status)
		}
	}
	t.Logf("%d requests; tenants %v; locales %v; %d distinct paths; %d conditional (%d 304); %d account; %d edits",
		len(reqs), tenants, langs, len(paths), conditional, notModified, accounts, edits)
	if len(tenants) != 3 || tenants["acme"] <= tenants["cirrus"] {
		t.Errorf("tenants %v: want all three, skewed towards the first", tenants)
	}
	if langs["de"] < len(reqs)/5 || langs["en"] < len(reqs)/5 {
		t.Errorf("locales %v: want both", langs)
	}
	if paths["/"] <= paths["/account"] || paths["/companies"] == 0 || len(paths) < 8 {
		t.Errorf("paths %v: want profile pages most, listings, and discovered detail pages", paths)
	}
	if conditional == 0 || notModified == 0 {
		t.Errorf("%d conditional requests, %d answered 304", conditional, notModified)
	}
	if accounts == 0 || editPaths["/edit"] == 0 || editPaths["/edit/gallery"] == 0 {
		t.Errorf("%d account visits, edits %v: want visits, and edits of descriptions and captions", accounts, editPaths)
	}
	var discovered bool
	for p := range paths {
		if strings.HasPrefix(p, "/companies/") && p != "/companies/acme" && p != "/companies/berg" && p != "/companies/cirrus" {
			discovered = true
		}
	}
	if !discovered {
		t.Errorf("no listing link was followed: %v", paths)
	}
}

func TestRateIsNeverExceeded(t *testing.T) {
	rec, srv := originServer(t)
	const rate = 40.0
	runFor(t, traffic.Config{Target: srv.URL, Rate: rate}, func() bool { return len(rec.all()) >= 40 })
	reqs := rec.all()
	slices.SortFunc(reqs, func(a, b seen) int { return a.at.Compare(b.at) })
	// Over any one-second window, a ticker at the rate lets through at most
	// rate+1 requests; allow a generous margin for a loaded machine.
	for i := range reqs {
		n := 0
		for j := i; j < len(reqs) && reqs[j].at.Sub(reqs[i].at) < time.Second; j++ {
			n++
		}
		if n > int(rate*1.25)+2 {
			t.Fatalf("%d requests within one second at rate %v", n, rate)
		}
	}
	span := reqs[len(reqs)-1].at.Sub(reqs[0].at)
	t.Logf("%d requests in %v: %.1f/s at a configured %v/s", len(reqs), span, float64(len(reqs)-1)/span.Seconds(), rate)
	if got := float64(len(reqs)-1) / span.Seconds(); got > rate*1.25 {
		t.Fatalf("measured %.1f requests/s, configured %v", got, rate)
	}
}

// countingTransport counts requests in flight and the most seen at once.
type countingTransport struct {
	inner             http.RoundTripper
	inFlight, maxSeen atomic.Int64
	started           atomic.Int64
	closed            atomic.Bool
	afterClose        atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.closed.Load() {
		c.afterClose.Add(1)
	}
	c.started.Add(1)
	n := c.inFlight.Add(1)
	for {
		m := c.maxSeen.Load()
		if n <= m || c.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	defer c.inFlight.Add(-1)
	return c.inner.RoundTrip(r)
}

func TestConcurrencyIsBoundedAndCancelStopsEverything(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	tr := &countingTransport{inner: http.DefaultTransport}
	cfg := traffic.Config{Target: srv.URL, Rate: 500, Concurrency: 3, Client: &http.Client{Transport: tr}}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- traffic.Run(ctx, cfg) }()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if tr.inFlight.Load() < 3 {
			return errNotYet
		}
		return nil
	})
	// The server holds every request: at 500/s, a generator that queued
	// ticks or ignored its bound would pile up requests within 100 ms.
	deadline := time.Now().Add(100 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := tr.inFlight.Load(); n > 3 {
			t.Fatalf("%d requests in flight, bound 3", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	started := tr.started.Load()
	cancel() // the held requests are cancelled with the context
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel while requests were held")
	}
	tr.closed.Store(true)
	close(release)
	if tr.maxSeen.Load() > 3 || tr.inFlight.Load() != 0 {
		t.Fatalf("max in flight %d, still in flight %d", tr.maxSeen.Load(), tr.inFlight.Load())
	}
	if started != 3 {
		t.Errorf("%d requests started while 3 were held: ticks were queued, not dropped", started)
	}
	if tr.afterClose.Load() != 0 {
		t.Fatal("a request started after Run returned")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    traffic.Config
		errHas string
	}{
		{"no target", traffic.Config{}, "no target"},
		{"not http", traffic.Config{Target: "ftp://x"}, "http://"},
		{"no host", traffic.Config{Target: "http://"}, "with a host"},
		{"negative rate", traffic.Config{Target: "http://x", Rate: -1}, "rate -1"},
		{"too fast", traffic.Config{Target: "http://x", Rate: 1e6}, "up to 1000"},
		{"empty tenants", traffic.Config{Target: "http://x", Tenants: []string{}}, "no tenants"},
		{"dotted tenant", traffic.Config{Target: "http://x", Tenants: []string{"a.b"}}, `"a.b"`},
		{"negative concurrency", traffic.Config{Target: "http://x", Concurrency: -1}, "concurrency"},
		{"negative edit interval", traffic.Config{Target: "http://x", EditEvery: -time.Second}, "edit interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := traffic.Run(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("Run() = %v, want an error containing %q", err, tt.errHas)
			}
		})
	}
}

func TestSingleTenantAndUnreachableTarget(t *testing.T) {
	// Nothing listens: requests fail, are logged, and Run keeps going
	// until cancelled.
	tr := &countingTransport{inner: http.DefaultTransport}
	cfg := traffic.Config{Target: "http://127.0.0.1:1", Tenants: []string{"solo"}, Rate: 200, Client: &http.Client{Transport: tr}}
	runFor(t, cfg, func() bool { return tr.started.Load() >= 10 })
}
