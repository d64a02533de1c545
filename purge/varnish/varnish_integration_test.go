package varnish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
)

const shippedVCL = "../../deploy/varnish/cachegate.vcl"

// origin stands in for the gateway: each response carries the CDN tags of
// its tenant (the first label of Host) in an xkey header, and counts the
// fetches per host and path so tests can see what reached it.
type origin struct {
	srv   *httptest.Server
	mu    sync.Mutex
	count map[string]int
}

func startOrigin(t testing.TB) *origin {
	o := &origin{count: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		tenant, _, _ := strings.Cut(host, ".")
		o.mu.Lock()
		o.count[host+r.URL.RequestURI()]++
		n := o.count[host+r.URL.RequestURI()]
		o.mu.Unlock()
		h := w.Header()
		h.Set("Xkey", fmt.Sprintf("%[1]s:company:%[1]s %[1]s:path:/", tenant))
		h.Set("Cache-Control", "public, max-age=300, stale-while-revalidate=30")
		h.Set("Cache-Status", "cachegate; fwd=miss; stored")
		switch r.URL.Path {
		case "/set-cookie":
			h.Set("Set-Cookie", "sessionid=abc")
		case "/private":
			h.Set("Cache-Control", "private, max-age=300")
		case "/no-store":
			h.Set("Cache-Control", "no-store")
		case "/no-freshness":
			h.Del("Cache-Control")
		}
		fmt.Fprintf(w, "%s %s fetch %d\n", host, r.URL.RequestURI(), n)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) fetches(hostPath string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[hostPath]
}

type fetched struct {
	cache string // X-Cache
	body  string
	hdr   http.Header
}

func get(t testing.TB, v *testenv.Varnish, host, path string, hdr ...string) fetched {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s: %s: %s\n%s", host, path, resp.Status, body, v.Output())
	}
	return fetched{cache: resp.Header.Get("X-Cache"), body: string(body), hdr: resp.Header}
}

// warm fetches each host/path until Varnish serves it from cache.
func warm(t *testing.T, v *testenv.Varnish, hostPaths ...string) {
	t.Helper()
	for _, hp := range hostPaths {
		host, path, _ := strings.Cut(hp, "/")
		get(t, v, host, "/"+path)
		if f := get(t, v, host, "/"+path); f.cache != "HIT" {
			t.Fatalf("%s: second fetch X-Cache %q, want HIT", hp, f.cache)
		}
	}
}

func expectCache(t *testing.T, v *testenv.Varnish, want map[string]string) {
	t.Helper()
	for hp, cache := range want {
		host, path, _ := strings.Cut(hp, "/")
		if got := get(t, v, host, "/"+path).cache; got != cache {
			t.Errorf("%s: X-Cache %q, want %q", hp, got, cache)
		}
	}
}

func TestVarnishIntegration(t *testing.T) {
	t.Parallel()
	o := startOrigin(t)
	v := testenv.StartVarnish(t, o.srv.Listener.Addr().String(), shippedVCL)
	p := newPurger(t, Config{URLs: []string{v.URL}})
	ctx := context.Background()

	// Each subtest uses its own tenants, so that earlier purges and bans
	// do not decide later outcomes.
	t.Run("hard purge by tag drops only that tenant's page", func(t *testing.T) {
		warm(t, v, "acme1.test/", "berg1.test/")
		before := o.fetches("acme1.test/")
		res, err := p.Send(ctx, purge.Batch{Tags: []string{"acme1:company:acme1"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Purged != 1 {
			t.Errorf("Varnish reported %d objects purged, want 1", res.Purged)
		}
		expectCache(t, v, map[string]string{"acme1.test/": "MISS", "berg1.test/": "HIT"})
		if got := o.fetches("acme1.test/"); got != before+1 {
			t.Errorf("origin fetches of the purged page: %d, want %d", got, before+1)
		}
	})

	t.Run("soft purge serves stale once and refetches", func(t *testing.T) {
		warm(t, v, "acme2.test/", "berg2.test/")
		old := get(t, v, "acme2.test", "/").body
		if err := p.Purge(ctx, purge.Batch{Tags: []string{"acme2:company:acme2"}, Soft: true}); err != nil {
			t.Fatal(err)
		}
		f := get(t, v, "acme2.test", "/")
		if f.cache != "STALE" || f.body != old {
			t.Errorf("after soft purge: X-Cache %q body %q, want STALE and the old body", f.cache, f.body)
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if n := o.fetches("acme2.test/"); n != 2 {
				return fmt.Errorf("origin fetches %d, want 2 (background refetch)", n)
			}
			return nil
		})
		testenv.WaitFor(t, 5*time.Second, func() error {
			if f := get(t, v, "acme2.test", "/"); f.cache != "HIT" || f.body == old {
				return fmt.Errorf("X-Cache %q body %q: refetched object not served yet", f.cache, f.body)
			}
			return nil
		})
		expectCache(t, v, map[string]string{"berg2.test/": "HIT"})
	})

	t.Run("ban by URL is exact", func(t *testing.T) {
		warm(t, v, "acme3.test/companies", "acme3.test/companies/x", "acme3.test/companies?page=2", "berg3.test/companies")
		if err := p.Purge(ctx, purge.Batch{URLs: []string{"http://acme3.test/companies"}}); err != nil {
			t.Fatal(err)
		}
		expectCache(t, v, map[string]string{
			"acme3.test/companies": "MISS", "acme3.test/companies/x": "HIT",
			"acme3.test/companies?page=2": "HIT", "berg3.test/companies": "HIT",
		})
	})

	t.Run("ban by prefix on segment boundaries", func(t *testing.T) {
		warm(t, v, "acme4.test/companies", "acme4.test/companies/x", "acme4.test/companies?page=2",
			"acme4.test/companiesx", "acme4.test/c.mpanies", "acme4.test/", "berg4.test/companies")
		if err := p.Purge(ctx, purge.Batch{Prefixes: []string{"acme4.test/companies", "acme4.test/c.mpanies"}}); err != nil {
			t.Fatal(err)
		}
		expectCache(t, v, map[string]string{
			"acme4.test/companies": "MISS", "acme4.test/companies/x": "MISS", "acme4.test/companies?page=2": "MISS",
			"acme4.test/companiesx": "HIT", "acme4.test/": "HIT", "berg4.test/companies": "HIT",
			"acme4.test/c.mpanies": "MISS",
		})
	})

	t.Run("host ban ignores case and port", func(t *testing.T) {
		warm(t, v, "acme5.test:80/", "acme5.test/a", "berg5.test/")
		if err := p.Purge(ctx, purge.Batch{Hosts: []string{"ACME5.test:8080"}}); err != nil {
			t.Fatal(err)
		}
		expectCache(t, v, map[string]string{"acme5.test:80/": "MISS", "acme5.test/a": "MISS", "berg5.test/": "HIT"})
	})

	t.Run("everything of a tenant spares other tenants", func(t *testing.T) {
		warm(t, v, "acme6.test/", "www.acme6.test/x", "berg6.test/", "acme66.test/")
		if err := p.Purge(ctx, purge.Batch{Zone: "acme6", Everything: true}); err != nil {
			t.Fatal(err)
		}
		// www.acme6.test is tenant "www" here: only objects tagged acme6: go.
		expectCache(t, v, map[string]string{"acme6.test/": "MISS", "www.acme6.test/x": "HIT", "berg6.test/": "HIT", "acme66.test/": "HIT"})
	})

	t.Run("what is never cached", func(t *testing.T) {
		tests := []struct {
			name, path string
			hdr        []string
			want       string
		}{
			{"authorization", "/auth", []string{"Authorization", "Bearer x"}, "PASS"},
			{"session cookie", "/session", []string{"Cookie", "theme=dark; sessionid=abc"}, "PASS"},
			{"set-cookie", "/set-cookie", nil, "MISS"},
			{"private", "/private", nil, "MISS"},
			{"no-store", "/no-store", nil, "MISS"},
			{"no freshness", "/no-freshness", nil, "MISS"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for i := 1; i <= 3; i++ {
					if f := get(t, v, "acme7.test", tt.path, tt.hdr...); f.cache != tt.want {
						t.Errorf("fetch %d: X-Cache %q, want %q", i, f.cache, tt.want)
					}
				}
				if n := o.fetches("acme7.test" + tt.path); n != 3 {
					t.Errorf("origin fetches %d, want 3", n)
				}
			})
		}
		// Another cookie does not make a page private.
		warm(t, v, "acme7.test/plain")
		if f := get(t, v, "acme7.test", "/plain", "Cookie", "theme=dark"); f.cache != "HIT" {
			t.Errorf("non-session cookie: X-Cache %q, want HIT", f.cache)
		}
	})

	t.Run("client headers: no internal ones, Cache-Status appended", func(t *testing.T) {
		for _, status := range []string{"cachegate; fwd=miss; stored, varnish; fwd=miss", "cachegate; fwd=miss; stored, varnish; hit"} {
			f := get(t, v, "acme8.test", "/")
			for _, h := range []string{"Xkey", "X-Url", "X-Host"} {
				if vals := f.hdr.Values(h); len(vals) > 0 {
					t.Errorf("client got %s: %q", h, vals)
				}
			}
			if got := f.hdr.Get("Cache-Status"); got != status {
				t.Errorf("Cache-Status %q, want %q", got, status)
			}
		}
	})

	t.Run("many long tags are split to fit Varnish's header limit", func(t *testing.T) {
		warm(t, v, "acme10.test/", "berg10.test/")
		tags := make([]string, 0, 41)
		for i := 0; i < 40; i++ {
			tags = append(tags, fmt.Sprintf("acme10:%04d:%s", i, strings.Repeat("x", MaxTagLength-12)))
		}
		tags = append(tags, "acme10:company:acme10")
		res, err := p.Send(ctx, purge.Batch{Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests < 6 || res.Purged != 1 {
			t.Errorf("%d requests, %d purged; want at least 6 requests (8 KB each) and 1 object", res.Requests, res.Purged)
		}
		expectCache(t, v, map[string]string{"acme10.test/": "MISS", "berg10.test/": "HIT"})
	})

	t.Run("PURGE without keys purges the URL", func(t *testing.T) {
		warm(t, v, "acme11.test/a", "acme11.test/b")
		req, _ := http.NewRequest(MethodPurge, v.URL+"/a", nil)
		req.Host = "acme11.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		expectCache(t, v, map[string]string{"acme11.test/a": "MISS", "acme11.test/b": "HIT"})
	})

	t.Run("PURGE and BAN refuse bad requests", func(t *testing.T) {
		tests := []struct {
			method, header, value string
			status                int
		}{
			{MethodBan, "", "", http.StatusBadRequest},
			{MethodBan, HeaderBanPrefix, `/a"b`, http.StatusBadRequest},
			{MethodBan, HeaderBanTenant, "Acme Corp", http.StatusBadRequest},
		}
		for _, tt := range tests {
			req, _ := http.NewRequest(tt.method, v.URL+"/", nil)
			req.Host = "acme9.test"
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("%s %s=%q: status %d, want %d", tt.method, tt.header, tt.value, resp.StatusCode, tt.status)
			}
		}
	})
}

func TestVarnishACLRefusesOthers(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(shippedVCL)
	if err != nil {
		t.Fatal(err)
	}
	acl := regexp.MustCompile(`(?s)acl purgers \{.*?\}`)
	if !acl.Match(src) {
		t.Fatal("the shipped VCL has no acl purgers")
	}
	vcl := filepath.Join(t.TempDir(), "cachegate.vcl")
	if err := os.WriteFile(vcl, acl.ReplaceAll(src, []byte(`acl purgers { "192.0.2.1"; }`)), 0o644); err != nil {
		t.Fatal(err)
	}
	o := startOrigin(t)
	v := testenv.StartVarnish(t, o.srv.Listener.Addr().String(), vcl)
	warm(t, v, "acme.test/")
	p := newPurger(t, Config{URLs: []string{v.URL}})
	for _, b := range []purge.Batch{{Tags: []string{"acme:company:acme"}}, {URLs: []string{"http://acme.test/"}}} {
		err := p.Purge(context.Background(), b)
		if !errors.Is(err, purge.ErrPermanent) || !strings.Contains(err.Error(), "acl purgers") {
			t.Errorf("purge from outside the ACL: want a permanent error naming the ACL, got %v", err)
		}
	}
	expectCache(t, v, map[string]string{"acme.test/": "HIT"})
}

func TestVarnishNodesDownAndBack(t *testing.T) {
	t.Parallel()
	o := startOrigin(t)
	a := testenv.StartVarnish(t, o.srv.Listener.Addr().String(), shippedVCL)
	b := testenv.StartVarnish(t, o.srv.Listener.Addr().String(), shippedVCL)
	p := newPurger(t, Config{URLs: []string{a.URL, b.URL}, Timeout: 2 * time.Second})
	ctx := context.Background()

	warm(t, a, "acme.test/")
	warm(t, b, "acme.test/")
	if err := p.Purge(ctx, purge.Batch{Tags: []string{"acme:company:acme"}}); err != nil {
		t.Fatal(err)
	}
	expectCache(t, a, map[string]string{"acme.test/": "MISS"})
	expectCache(t, b, map[string]string{"acme.test/": "MISS"})

	b.Stop()
	err := p.Purge(ctx, purge.Batch{Tags: []string{"acme:company:acme"}})
	if err == nil || errors.Is(err, purge.ErrPermanent) {
		t.Fatalf("with a node down: want a temporary error, got %v", err)
	}
	if !strings.Contains(err.Error(), b.URL) || strings.Contains(err.Error(), a.URL) {
		t.Errorf("error should name only the stopped node %s: %v", b.URL, err)
	}

	// The queue retries; once the node is back the same purge confirms.
	b.Restart()
	if err := p.Purge(ctx, purge.Batch{Tags: []string{"acme:company:acme"}}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestVarnishStoppedIsTemporary(t *testing.T) {
	t.Parallel()
	o := startOrigin(t)
	v := testenv.StartVarnish(t, o.srv.Listener.Addr().String(), shippedVCL)
	p := newPurger(t, Config{URLs: []string{v.URL}})
	v.Stop()
	for _, b := range []purge.Batch{{Tags: []string{"acme:x"}}, {URLs: []string{"http://acme.test/"}}} {
		err := p.Purge(context.Background(), b)
		if err == nil || errors.Is(err, purge.ErrPermanent) {
			t.Fatalf("stopped Varnish: want a temporary error, got %v", err)
		}
	}
}

// BenchmarkVarnishPurge measures one confirmed xkey purge of 256 tags on a
// real Varnish over loopback, with a tagged object to drop each time.
func BenchmarkVarnishPurge(b *testing.B) {
	o := startOrigin(b)
	v := testenv.StartVarnish(b, o.srv.Listener.Addr().String(), shippedVCL)
	p, err := New(Config{URLs: []string{v.URL}})
	if err != nil {
		b.Fatal(err)
	}
	tags := make([]string, 256)
	for i := range tags {
		tags[i] = fmt.Sprintf("acme:product:%d", i)
	}
	tags[0] = "acme:company:acme"
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		get(b, v, "acme.test", "/")
		b.StartTimer()
		res, err := p.Send(ctx, purge.Batch{Tags: tags})
		if err != nil || res.Purged < 1 {
			b.Fatalf("purged %d: %v", res.Purged, err)
		}
	}
}
