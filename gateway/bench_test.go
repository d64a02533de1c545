package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/internal/testenv"
)

// sink is a reusable ResponseWriter, so the benchmarks count the gateway's
// allocations, not a recorder's.
type sink struct {
	h      http.Header
	status int
	n      int
}

func (s *sink) Header() http.Header         { return s.h }
func (s *sink) Write(p []byte) (int, error) { s.n += len(p); return len(p), nil }
func (s *sink) WriteHeader(code int)        { s.status = code }
func (s *sink) reset()                      { clear(s.h); s.status, s.n = 0, 0 }

// nullStore never holds anything: as L1 it makes every lookup reach L2.
type nullStore struct{}

func (nullStore) Get(context.Context, string, string) (*gateway.Entry, uint64, error) {
	return nil, 0, nil
}
func (nullStore) Set(context.Context, string, string, *gateway.Entry, time.Duration) error {
	return nil
}
func (nullStore) Delete(context.Context, string, string) error           { return nil }
func (nullStore) InvalidateTags(context.Context, string, []string) error { return nil }
func (nullStore) InvalidateTenant(context.Context, string) error         { return nil }

var body2K = strings.Repeat("x", 2048)

func benchGateway(b *testing.B, l1, l2 gateway.Store, mods ...func(*gateway.Config)) *gateway.Gateway {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Surrogate-Key", "company:acme company")
		w.Write([]byte(body2K))
	}))
	b.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	cfg := gateway.Config{Origin: u, L1: l1, L2: l2}
	for _, mod := range mods {
		mod(&cfg)
	}
	g, err := gateway.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

func newL1(b testing.TB) *memstore.Store {
	s, err := memstore.New(memstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchHits(b *testing.B, g *gateway.Gateway, want string) {
	benchHitsOf(b, g, httptest.NewRequest(http.MethodGet, "http://acme/companies/acme?page=1", nil), want)
}

func benchHitsOf(b *testing.B, g *gateway.Gateway, req *http.Request, want string) {
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	req.Header.Set("User-Agent", "bench")
	w := &sink{h: http.Header{}}
	g.ServeHTTP(w, req) // fill
	w.reset()
	g.ServeHTTP(w, req)
	if cs := w.h.Get("Cache-Status"); !strings.Contains(cs, want) || w.n != len(body2K) {
		b.Fatalf("Cache-Status %q, %d bytes", cs, w.n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	// The process's CPU time per hit as well: on a shared machine the wall
	// time per op also counts the time other processes ran.
	start := cpuTime(b)
	for b.Loop() {
		w.reset()
		g.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkL1Hit(b *testing.B) {
	benchHits(b, benchGateway(b, newL1(b), nil), "detail=l1")
}

// BenchmarkL1HitWarmTracking is BenchmarkL1Hit with warming on: each hit
// also feeds the tenant's top-K.
func BenchmarkL1HitWarmTracking(b *testing.B) {
	benchHits(b, benchGateway(b, newL1(b), nil, func(c *gateway.Config) { c.Warm.Enabled = true }), "detail=l1")
}

func BenchmarkL1HitParallel(b *testing.B) {
	g := benchGateway(b, newL1(b), nil)
	req := httptest.NewRequest(http.MethodGet, "http://acme/companies/acme", nil)
	g.ServeHTTP(&sink{h: http.Header{}}, req)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &sink{h: http.Header{}}
		for pb.Next() {
			w.reset()
			g.ServeHTTP(w, req)
		}
	})
}

// BenchmarkL2Hit uses the in-memory test layer as L2 (no network): it
// measures the gateway's L2 path; the Redis round trip comes on top.
func BenchmarkL2Hit(b *testing.B) {
	benchHits(b, benchGateway(b, nullStore{}, gateway.NewTestStore()), "detail=l2")
}

func BenchmarkMiss(b *testing.B) {
	g := benchGateway(b, newL1(b), nil)
	w := &sink{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest(http.MethodGet, "http://acme/p/"+strconv.Itoa(i), nil)
		w.reset()
		g.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkL2HitRedis is an L2 hit on a real redis-server on loopback (L1
// never holds the entry).
func BenchmarkL2HitRedis(b *testing.B) {
	r := testenv.StartRedis(b)
	benchHits(b, benchGateway(b, nullStore{}, redisL2(b, r.Addr)), "detail=l2")
}

// BenchmarkL1HitServed is an L1 hit configured as the serve command runs
// by default (Via on), for a request as a server reads it (origin-form
// request line): what a client of a running gateway costs the hit path.
func BenchmarkL1HitServed(b *testing.B) {
	g := servedGateway(b)
	req := httptest.NewRequest(http.MethodGet, "/bench?page=1", nil)
	req.Host = "acme"
	benchHitsOf(b, g, req, "detail=l1")
}

// servedGateway is a gateway configured as serve runs it by default (Via
// on), in front of an origin answering 2 KiB, public for an hour, with the
// extra header fields ("Name: value").
func servedGateway(b *testing.B, extra ...string) *gateway.Gateway {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for _, f := range extra {
			k, v, _ := strings.Cut(f, ": ")
			w.Header().Set(k, v)
		}
		w.Write([]byte(body2K))
	}))
	b.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	g, err := gateway.New(gateway.Config{Origin: u, L1: newL1(b), Via: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g
}

// BenchmarkL1HitWire is an L1 hit as serve answers it, through net/http's
// server and echo's router on a loopback connection, from a client that
// allocates nothing: its allocations are the server's whole per-request
// cost (request parsing, the response header and net/http's copy of it),
// which the benchmarks above leave out with their reused writer.
func BenchmarkL1HitWire(b *testing.B) {
	s := httptest.NewServer(servedGateway(b, "ETag: \"v1\"").Handler())
	b.Cleanup(s.Close)
	benchL1HitWire(b, s.Listener.Addr().String())
}

// benchL1HitWire times L1 hits of the gateway served at addr, one
// connection, one request at a time.
func benchL1HitWire(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	req := []byte("GET /bench?page=1 HTTP/1.1\r\nHost: acme\r\nUser-Agent: bench\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n")
	rd := bufio.NewReaderSize(c, 16<<10)
	roundTrip := func() (hit bool) {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n := -1
		for {
			line, err := rd.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n = 0
				for _, d := range bytes.TrimSpace(v) {
					n = n*10 + int(d-'0')
				}
			}
			hit = hit || bytes.Contains(line, []byte("detail=l1"))
		}
		if n != len(body2K) {
			b.Fatalf("Content-Length %d", n)
		}
		if _, err := rd.Discard(n); err != nil {
			b.Fatal(err)
		}
		return hit
	}
	roundTrip()
	if !roundTrip() {
		b.Fatal("second request was not an L1 hit")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		roundTrip()
	}
}

// BenchmarkL1HitSpread is BenchmarkL1HitServed over 10,000 stored URLs
// requested in a shuffled order, as the load script's spread workload asks
// them: each hit reads an entry the CPU caches no longer hold, so what it
// adds to BenchmarkL1HitServed is the cost of the entry's memory layout
// (the pointers a hit follows), not of its code.
func BenchmarkL1HitSpread(b *testing.B) {
	const n = 10000
	g := servedGateway(b)
	req := httptest.NewRequest(http.MethodGet, "/fill/0", nil)
	req.Host = "acme"
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	req.Header.Set("User-Agent", "bench")
	paths := make([]string, n)
	w := &sink{h: http.Header{}}
	for i := range paths {
		paths[i] = "/fill/" + strconv.Itoa(i)
		req.URL.Path, req.RequestURI = paths[i], paths[i]
		w.reset()
		g.ServeHTTP(w, req) // fill
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	for _, i := range order[:2] {
		req.URL.Path, req.RequestURI = paths[i], paths[i]
		w.reset()
		g.ServeHTTP(w, req)
		if cs := w.h.Get("Cache-Status"); !strings.Contains(cs, "detail=l1") || w.n != len(body2K) {
			b.Fatalf("%s: Cache-Status %q, %d bytes", paths[i], cs, w.n)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime(b)
	i := 0
	for b.Loop() {
		p := paths[order[i]]
		if i++; i == n {
			i = 0
		}
		req.URL.Path, req.RequestURI = p, p
		w.reset()
		g.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}
