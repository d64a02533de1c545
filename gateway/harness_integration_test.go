package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/stats"
)

// origin is a test origin on 127.0.0.1 counting the requests it serves.
type origin struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	seen     []*http.Request // headers of every request, in order
}

func startOrigin(t testing.TB, h http.HandlerFunc) *origin {
	t.Helper()
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		o.seen = append(o.seen, r.Clone(r.Context()))
		o.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[len(o.seen)-1]
}

// paths counts the requests the origin served for path.
func (o *origin) paths(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, r := range o.seen {
		if r.URL.Path == path {
			n++
		}
	}
	return n
}

// gw is a gateway under test behind an httptest server.
type gw struct {
	*gateway.Gateway
	srv   *httptest.Server
	l1    *memstore.Store
	cfg   gateway.Config
	stats *stats.Recorder
	clock atomic.Int64 // offset added to the gateway's clock, in ns
}

func startGateway(t testing.TB, o *origin, mod func(*gateway.Config)) *gw {
	t.Helper()
	l1, err := memstore.New(memstore.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(o.srv.URL)
	cfg := gateway.Config{Origin: u, L1: l1, Stats: stats.New(), Metrics: prometheus.NewRegistry()}
	if mod != nil {
		mod(&cfg)
	}
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	x := &gw{Gateway: g, l1: l1, cfg: cfg, stats: cfg.Stats}
	gateway.SetClock(g, func() time.Time { return time.Now().Add(time.Duration(x.clock.Load())) })
	x.srv = httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		x.srv.Close()
		g.Close()
	})
	return x
}

// advance ages every stored entry by d, as the gateway sees it.
func (g *gw) advance(d time.Duration) { g.clock.Add(int64(d)) }

var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

type result struct {
	status int
	header http.Header
	body   string
}

func (r result) cacheStatus() string { return r.header.Get("Cache-Status") }

// do sends method to path on host with header pairs ("Name: value").
func (g *gw) do(t testing.TB, method, host, path string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, string(body)}
}

func (g *gw) get(t testing.TB, path string, hdr ...string) result {
	t.Helper()
	return g.do(t, http.MethodGet, "acme", path, hdr...)
}

func wantStatus(t *testing.T, r result, contains ...string) {
	t.Helper()
	cs := r.cacheStatus()
	if !strings.HasPrefix(cs, "cachegate; ") {
		t.Fatalf("Cache-Status %q does not start with the cache name", cs)
	}
	for _, c := range contains {
		if !strings.Contains(cs, c) {
			t.Fatalf("Cache-Status %q lacks %q", cs, c)
		}
	}
}

func wantNoStatus(t *testing.T, r result, absent string) {
	t.Helper()
	if strings.Contains(r.cacheStatus(), absent) {
		t.Fatalf("Cache-Status %q has %q", r.cacheStatus(), absent)
	}
}

// cacheable answers with body, public for max-age seconds, tagged.
func cacheable(maxAge string, body string, extra ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", maxAge)
		w.Header().Set("Surrogate-Key", "company:acme company")
		for _, h := range extra {
			k, v, _ := strings.Cut(h, ":")
			w.Header().Add(k, strings.TrimSpace(v))
		}
		io.WriteString(w, body)
	}
}
