package policy_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// propertyPolicy has a private route, localized and plain public routes
// with staff bypass, and a default that respects the origin (which says
// "public, max-age=300" to everyone, credentials or not: the gateway
// alone must keep private answers private).
const propertyPolicy = `
cache_name: cachegate
session_cookies: [sessionid, session]
tenants:
  by: subdomain
  domains: [localhost]
routes:
  - name: private
    match: { path: /private }
    private: true
  - name: localized
    match: { path: /loc, methods: [GET] }
    ttl: 1h
    browser: public, max-age=60
    cdn: max-age=600
    tags: ["loc:{tenant}"]
    locales: [en, de]
    staff_bypass: { cookie: staff_preview }
  - name: public
    match: { path: /pub, methods: [GET] }
    ttl: 1h
    browser: public, max-age=60
    cdn: max-age=600
    staff_bypass: { cookie: staff_preview }
default:
  ttl: origin
cdn:
  provider: cloudflare
  cloudflare:
    api_token: cf-test-token-0123456789
    base_url: http://127.0.0.1:9
    zone: 0123456789abcdef0123456789abcdef
admin:
  token: ${CACHEGATE_ADMIN_TOKEN}
`

// originCall is what the echo origin saw for one marker.
type originCall struct {
	method, host, target, auth, cookie, lang string
	setCookie                                bool
}

// echoOrigin answers every request with a unique marker, remembering the
// request that got it. Paths under /setcookie/ also set a cookie.
type echoOrigin struct {
	url   string
	seq   atomic.Int64
	calls sync.Map // marker -> originCall
}

func startEchoOrigin(t testing.TB, extra func(w http.ResponseWriter, r *http.Request)) *echoOrigin {
	t.Helper()
	o := &echoOrigin{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.seq.Add(1)
		c := originCall{method: r.Method, host: r.Host, target: r.URL.RequestURI(), auth: r.Header.Get("Authorization"),
			cookie: r.Header.Get("Cookie"), lang: r.Header.Get("Accept-Language")}
		h := w.Header()
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Surrogate-Key", "t:"+hostTenant(r.Host))
		if strings.HasPrefix(r.URL.Path, "/setcookie/") {
			c.setCookie = true
			h.Set("Set-Cookie", "id="+strconv.FormatInt(n, 10)+"; Path=/")
		}
		if extra != nil {
			extra(w, r)
		}
		o.calls.Store(n, c)
		fmt.Fprintf(w, "marker=%d\n", n)
	}))
	t.Cleanup(srv.Close)
	o.url = srv.URL
	return o
}

func (o *echoOrigin) call(marker int64) (originCall, bool) {
	v, ok := o.calls.Load(marker)
	if !ok {
		return originCall{}, false
	}
	return v.(originCall), true
}

func marker(body string) (int64, bool) {
	s, ok := strings.CutPrefix(body, "marker=")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

// hostTenant is the tenant of a host under the subdomain policy, or "" for
// a host the policy cannot resolve (then the request bypasses the cache).
func hostTenant(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	sub, ok := strings.CutSuffix(strings.ToLower(host), ".localhost")
	if !ok || sub == "" || strings.Contains(sub, ".") {
		return ""
	}
	return sub
}

func hasCookie(header, name string) bool {
	for part := range strings.SplitSeq(header, ";") {
		if k, _, _ := strings.Cut(strings.TrimSpace(part), "="); k == name {
			return true
		}
	}
	return false
}

// privateCall says whether what the origin saw must never be shared:
// credentials, a private route, a staff preview, an unresolved tenant, a
// cookie set, or a method a cache does not serve.
func privateCall(c originCall) bool {
	return c.auth != "" || hasCookie(c.cookie, "sessionid") || hasCookie(c.cookie, "session") ||
		staffPreview(c.target, c.cookie) || strings.HasPrefix(c.target, "/private") ||
		hostTenant(c.host) == "" || c.setCookie || c.method != http.MethodGet
}

// staffPreview: the cookie bypasses the cache on the routes whose rule
// names it (/pub and /loc), and nowhere else.
func staffPreview(target, cookie string) bool {
	return hasCookie(cookie, "staff_preview") && (strings.HasPrefix(target, "/pub") || strings.HasPrefix(target, "/loc"))
}

type propRequest struct {
	node                               int
	method, host, target, auth, cookie string
	lang, cacheControl                 string
}

func (r propRequest) lines() []string {
	var l []string
	for _, kv := range [][2]string{{"Authorization", r.auth}, {"Cookie", r.cookie}, {"Accept-Language", r.lang}, {"Cache-Control", r.cacheControl}} {
		if kv[1] != "" {
			l = append(l, kv[0]+": "+kv[1])
		}
	}
	return l
}

// private: the request must never be answered from or into a cache.
func (r propRequest) private() bool {
	return r.method == http.MethodGet && privateCall(originCall{method: r.method, host: r.host, target: r.target, auth: r.auth, cookie: r.cookie}) &&
		!strings.HasPrefix(r.target, "/setcookie/")
}

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

func randomRequest(rng *rand.Rand, nodes int) propRequest {
	r := propRequest{node: rng.IntN(nodes), method: http.MethodGet}
	r.host = pick(rng, []string{"acme.localhost", "berg.localhost", "zed.localhost", "ACME.localhost", "acme.localhost:8080", "berg.localhost",
		"localhost", "acme.example"})
	r.target = pick(rng, []string{"/pub/a", "/pub/b", "/pub/a?q=1", "/loc/x", "/loc/y", "/private/me", "/other/1", "/other/2?x=y", "/setcookie/1"})
	user := "u" + strconv.Itoa(rng.IntN(4))
	switch rng.IntN(16) {
	case 0:
		r.auth = "Bearer " + user
	case 1:
		r.auth = "Basic " + user
	}
	var cookies []string
	for _, c := range []string{"sessionid=" + user, "session=" + user, "theme=dark", "staff_preview=1"} {
		if rng.IntN(10) == 0 {
			cookies = append(cookies, c)
		}
	}
	r.cookie = strings.Join(cookies, "; ")
	r.lang = pick(rng, []string{"", "en", "de", "de-DE,de;q=0.9", "fr"})
	if rng.IntN(20) == 0 {
		r.cacheControl = "no-cache"
	}
	if rng.IntN(25) == 0 {
		r.method = http.MethodPost
	}
	return r
}

// Random routes, credentials, cookies, tenants and locales against two
// nodes sharing Redis, concurrently: no response to an authenticated or
// private request is ever served to another request (each such marker is
// seen exactly once, by the request that caused it), and no response
// crosses tenants, URLs or locales.
func TestPropertyNothingPrivateOrForeignIsShared(t *testing.T) {
	const (
		seed     = 20261123
		workers  = 8
		requests = 2000
	)
	t.Logf("seed %d, %d requests", seed, requests)
	nats := testenv.StartNATS(t)
	redis := testenv.StartRedis(t)
	o := startEchoOrigin(t, nil)
	f := parse(t, "property.yaml", propertyPolicy)
	var nodes []*nodetest.Node
	for range 2 {
		nodes = append(nodes, nodetest.Start(t, nodetest.Options{NATSURL: nats.URL, RedisURL: "redis://" + redis.Addr, Origin: o.url, File: f}))
	}

	type served struct {
		req    propRequest
		marker int64
		header http.Header
	}
	var (
		mu  sync.Mutex
		out []served
		wg  sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for range requests / workers {
				req := randomRequest(rng, len(nodes))
				start := time.Now()
				r, err := do(nodes[req.node].URL, req.method, req.host, req.target, req.lines()...)
				if err != nil {
					errs <- fmt.Errorf("%+v: %w", req, err)
					return
				}
				m, ok := marker(r.body)
				if r.status != http.StatusOK || !ok {
					errs <- fmt.Errorf("%+v: status %d, body %q, Cache-Status %q", req, r.status, r.body, r.cacheStatus())
					return
				}
				if d := time.Since(start); d > time.Second {
					t.Logf("slow: %v for %+v (%s)", d, req, r.cacheStatus())
				}
				mu.Lock()
				out = append(out, served{req, m, r.header})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := map[int64]int{}
	hits, private := 0, 0
	for _, s := range out {
		seen[s.marker]++
		if strings.Contains(s.header.Get("Cache-Status"), "; hit") {
			hits++
		}
	}
	fail := func(s served, format string, args ...any) {
		t.Helper()
		t.Errorf("%+v (marker %d, Cache-Status %q): %s", s.req, s.marker, s.header.Get("Cache-Status"), fmt.Sprintf(format, args...))
	}
	for _, s := range out {
		c, ok := o.call(s.marker)
		if !ok {
			fail(s, "marker unknown to the origin")
			continue
		}
		if got, want := hostTenant(c.host), hostTenant(s.req.host); got != want || want == "" && c.host != s.req.host {
			fail(s, "served the entry of host %q (tenant %q)", c.host, got)
		}
		if c.target != s.req.target {
			fail(s, "served the entry of %q", c.target)
		}
		if strings.HasPrefix(s.req.target, "/loc/") && !privateCall(c) {
			want := "en"
			if strings.HasPrefix(s.req.lang, "de") {
				want = "de"
			}
			if c.lang != want {
				fail(s, "served the %q entry to a %q request", c.lang, want)
			}
		}
		if s.req.private() {
			private++
			if c.auth != s.req.auth || c.cookie != s.req.cookie {
				fail(s, "a private request got the response to auth %q cookie %q", c.auth, c.cookie)
			}
			cc := s.header.Get("Cache-Control")
			if cc != "private, no-store" && cc != "no-store" {
				fail(s, "private response with Cache-Control %q", cc)
			}
			if v := s.header.Get("Cache-Tag"); v != "" {
				fail(s, "private response with Cache-Tag %q", v)
			}
		}
		if privateCall(c) && seen[s.marker] != 1 {
			fail(s, "the private response %d was served %d times", s.marker, seen[s.marker])
		}
	}
	t.Logf("%d responses: %d private, %d hits, %d origin responses", len(out), private, hits, o.seq.Load())
	if hits < len(out)/5 || private < len(out)/5 {
		t.Fatalf("the random mix is too one-sided to prove anything: %d hits, %d private of %d", hits, private, len(out))
	}
}
