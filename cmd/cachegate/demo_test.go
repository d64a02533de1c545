package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// demo is a `cachegate demo` running in-process, with the addresses and
// token it printed.
type demo struct {
	*running
	gateway, admin, origin, token, dashboard string
	nats                                     string // the embedded NATS server's host:port
	port                                     string // the gateway's port, for Host headers
}

// startDemo runs the demo on free loopback ports; extra flags follow.
func startDemo(t testing.TB, extra ...string) *demo {
	t.Helper()
	args := append([]string{"demo",
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
		"--origin-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0",
		"--log-level", "warn",
	}, extra...)
	r := start(t, args...)
	d := &demo{running: r}
	// The banner is printed once everything is bound: wait for its end.
	r.line(t, `(?m)^(started .*; Ctrl-C stops)$`)
	d.gateway = r.line(t, `(?m)^gateway listening on (\S+)$`)
	d.admin = r.line(t, `(?m)^admin listening on (\S+)$`)
	d.origin = r.line(t, `(?m)^origin listening on (\S+)$`)
	// A token the user chose is not printed (TestDemoAdminTokenFromEnvironment).
	if d.token = os.Getenv("CACHEGATE_ADMIN_TOKEN"); d.token == "" {
		d.token = r.line(t, `(?m)^  admin token +(\S+)$`)
	}
	d.dashboard = r.line(t, `(?m)^  dashboard +(\S+)$`)
	d.nats = r.line(t, `(?m)^events on nats://(\S+)$`)
	_, d.port, _ = net.SplitHostPort(d.gateway)
	return d
}

// op runs an operator command against the demo's admin API, the token
// given by flag (t.Setenv cannot be used in a parallel test).
func (d *demo) op(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCmd(t, append(args, "--admin", "http://"+d.admin, "--token", d.token)...)
}

// host is the Host header of tenant's site on the demo's gateway.
func (d *demo) host(tenant string) string { return tenant + ".localhost:" + d.port }

func (d *demo) get(t testing.TB, tenant, path string, header ...string) reply {
	t.Helper()
	return get(t, d.gateway, d.host(tenant), path, header...)
}

// warm requests tenant's path until it is a hit (the first request fills,
// the second hits) and returns the hit.
func (d *demo) warm(t testing.TB, tenant, path string, header ...string) reply {
	t.Helper()
	d.get(t, tenant, path, header...)
	r := d.get(t, tenant, path, header...)
	if !r.isHit() {
		t.Fatalf("%s %s is not a hit the second time: %v", tenant, path, r)
	}
	return r
}

func (d *demo) originStats(t testing.TB) (total int, paths map[string]int) {
	t.Helper()
	r := get(t, d.origin, "", "/_origin/stats")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /_origin/stats: %d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var s struct {
		Total int            `json:"total"`
		Paths map[string]int `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.body), &s); err != nil {
		t.Fatalf("GET /_origin/stats: %v: %s", err, r.body)
	}
	return s.Total, s.Paths
}

var descriptionRE = regexp.MustCompile(`<p id="description">([^<]*)</p>`)

// TestDemo runs `cachegate demo` as a newcomer would (traffic off, so that
// every count is the test's own) and walks the contract's demo through the
// gateway: hits, 304s, private bypass, an editor's read-your-writes that
// leaves the other tenant's cache alone, and the origin's counts.
func TestDemo(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false")

	for _, want := range []string{
		"site acme     http://acme.localhost:" + d.port + "/",
		"site berg     http://berg.localhost:" + d.port + "/",
		"origin stats  http://" + d.origin + "/_origin/stats",
	} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the banner lacks %q:\n%s", want, d.stdout)
		}
	}
	if d.dashboard != "http://"+d.admin+"/" {
		t.Errorf("dashboard URL %q, want http://%s/", d.dashboard, d.admin)
	}
	if len(d.token) < 20 {
		t.Errorf("generated admin token %q is short", d.token)
	}

	t.Run("second request is an L1 hit", func(t *testing.T) {
		first := d.get(t, "acme", "/")
		if first.status != http.StatusOK || !strings.Contains(first.cacheStatus(), "fwd=miss") || !strings.Contains(first.cacheStatus(), "stored") {
			t.Fatalf("first request: %v, want a stored miss", first)
		}
		second := d.get(t, "acme", "/")
		if !strings.HasPrefix(second.cacheStatus(), "cachegate; hit; detail=l1") {
			t.Fatalf("second request: %v, want an L1 hit", second)
		}
		if second.body != first.body {
			t.Error("the hit's body differs from the stored response's")
		}
	})

	t.Run("If-None-Match with the stored ETag is 304", func(t *testing.T) {
		hit := d.warm(t, "acme", "/")
		etag := hit.header.Get("ETag")
		if etag == "" {
			t.Fatalf("no ETag on %v", hit)
		}
		r := d.get(t, "acme", "/", "If-None-Match: "+etag)
		if r.status != http.StatusNotModified || r.body != "" {
			t.Fatalf("If-None-Match %s: %v with %d bytes, want 304 and no body", etag, r, len(r.body))
		}
		if !r.isHit() {
			t.Errorf("the 304 was not answered from the cache: %v", r)
		}
	})

	t.Run("a German page is never served to an English request", func(t *testing.T) {
		en := d.warm(t, "acme", "/", "Accept-Language: en-US,en;q=0.9")
		de := d.get(t, "acme", "/", "Accept-Language: de-DE,de;q=0.9")
		if de.header.Get("Content-Language") != "de" || !strings.Contains(de.body, `lang="de"`) {
			t.Fatalf("German request: Content-Language %q, want de", de.header.Get("Content-Language"))
		}
		if de.isHit() && de.body == en.body {
			t.Fatal("the German request got the English page")
		}
		if r := d.get(t, "acme", "/", "Accept-Language: de"); !r.isHit() || r.body != de.body {
			t.Errorf("second German request: %v, want the German page from the cache", r)
		}
		if r := d.get(t, "acme", "/", "Accept-Language: fr, en;q=0.5"); !r.isHit() || r.body != en.body {
			t.Errorf("French-then-English request: %v, want the English page from the cache", r)
		}
	})

	t.Run("Authorization bypasses the cache", func(t *testing.T) {
		d.warm(t, "acme", "/")
		r := d.get(t, "acme", "/", "Authorization: Bearer someone")
		// The shell bypasses; its public fragments are shared.
		if r.header.Get("Cache-Control") != "private, no-store" || !strings.HasPrefix(r.cacheStatus(), "cachegate; fwd=bypass; fragments=2") {
			t.Fatalf("authenticated request: %v, want private, no-store and fwd=bypass", r)
		}
		for _, h := range []string{"Surrogate-Key", "Cache-Tag"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("authenticated response carries %s: %s", h, v)
			}
		}
	})

	t.Run("an edit is read by its editor, the other tenant stays cached", func(t *testing.T) {
		d.warm(t, "acme", "/")
		berg := d.warm(t, "berg", "/")
		desc := "Edited by TestDemo"
		form := url.Values{"description": {desc}}.Encode()
		r := send(t, http.MethodPost, d.gateway, d.host("acme"), "/edit", strings.NewReader(form),
			"Authorization: Bearer demo-editor", "Content-Type: application/x-www-form-urlencoded")
		if r.status/100 != 2 && r.status/100 != 3 {
			t.Fatalf("POST /edit: %v: %s", r, r.body)
		}
		if r.cacheStatus() != "cachegate; fwd=bypass" {
			t.Errorf("POST /edit: %v, want fwd=bypass", r)
		}
		acme := d.get(t, "acme", "/")
		if m := descriptionRE.FindStringSubmatch(acme.body); m == nil || m[1] != desc {
			t.Fatalf("acme / after the edit shows description %q, want %q", m, desc)
		}
		if !strings.Contains(acme.cacheStatus(), "fwd=miss") {
			t.Errorf("acme / after the edit: %v, want a miss", acme)
		}
		after := d.get(t, "berg", "/")
		if !after.isHit() || after.body != berg.body {
			t.Errorf("berg / after acme's edit: %v, want the same hit", after)
		}
	})

	t.Run("the origin reports what it served", func(t *testing.T) {
		total, paths := d.originStats(t)
		if total < 3 || paths["/"] < 2 || paths["/edit"] != 1 {
			t.Fatalf("origin stats: total %d, paths %v; want / fetched for acme and berg and one /edit", total, paths)
		}
		d.warm(t, "acme", "/companies")
		d.warm(t, "acme", "/companies")
		total2, paths2 := d.originStats(t)
		if total2 != total+1 || paths2["/companies"] != paths["/companies"]+1 {
			t.Errorf("origin stats after 4 requests for /companies: total %d → %d, /companies %d → %d; want one origin request",
				total, total2, paths["/companies"], paths2["/companies"])
		}
	})
}

// TestDemoAdminTokenFromEnvironment: CACHEGATE_ADMIN_TOKEN replaces the
// generated token, the admin API takes it, and the banner does not print
// it (a terminal's scrollback or a CI log is no place for it).
func TestDemoAdminTokenFromEnvironment(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "chosen-token-for-the-demo")
	d := startDemo(t, "--traffic=false")
	banner := d.line(t, `(?s)^(.*started .*; Ctrl-C stops)`)
	if strings.Contains(banner, "chosen-token-for-the-demo") || !strings.Contains(banner, "admin token   yours") {
		t.Errorf("the banner with a chosen token:\n%s\nwant the token not printed, and said to be the user's", banner)
	}
	for _, c := range []struct {
		auth string
		want int
	}{
		{"Authorization: Bearer chosen-token-for-the-demo", http.StatusOK},
		{"Authorization: Bearer wrong", http.StatusUnauthorized},
	} {
		if r := get(t, d.admin, "", "/api/v1/stats", c.auth); r.status != c.want {
			t.Errorf("GET /api/v1/stats with %q: %d, want %d", c.auth, r.status, c.want)
		}
	}
	// Cancelling the context is what SIGINT and SIGTERM do: the demo
	// returns 0 and lets go of every port it printed.
	if code := d.stop(t); code != 0 {
		t.Fatalf("the demo exited %d on cancel; stderr:\n%s", code, d.stderr)
	}
	for _, addr := range []string{d.gateway, d.admin, d.origin, d.nats} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the demo stopped", addr)
		}
	}
}

// TestDemoRedis: with --redis the demo uses Redis as its L2. Two demos on
// one Redis stand for two instances: what the first fetched, the second
// (whose L1 is empty) serves from L2 without asking its origin.
func TestDemoRedis(t *testing.T) {
	t.Parallel()
	rds := testenv.StartRedis(t)
	redisURL := "redis://" + rds.Addr + "/0"
	a := startDemo(t, "--traffic=false", "--redis", redisURL)
	b := startDemo(t, "--traffic=false", "--redis", redisURL)

	if r := a.get(t, "acme", "/"); !strings.Contains(r.cacheStatus(), "stored") {
		t.Fatalf("first request on the first demo: %v, want stored", r)
	}
	r := b.get(t, "acme", "/")
	if !strings.HasPrefix(r.cacheStatus(), "cachegate; hit; detail=l2") {
		t.Fatalf("the second demo's first request: %v, want an L2 hit", r)
	}
	if total, _ := b.originStats(t); total != 0 {
		t.Errorf("the second demo's origin served %d requests, want 0", total)
	}
	// The L2 hit was copied into the second demo's L1.
	if r := b.get(t, "acme", "/"); !strings.HasPrefix(r.cacheStatus(), "cachegate; hit; detail=l1") {
		t.Errorf("the second demo's second request: %v, want an L1 hit", r)
	}
}

// TestDemoEditDuringRedisOutage: an editor saves while Redis is down. The
// edit answers at once that it is saved and what holds (not a 504 after
// the whole wait), and the reload shows the change, also once Redis is
// back with the old page still in it.
func TestDemoEditDuringRedisOutage(t *testing.T) {
	t.Parallel()
	rds := testenv.StartRedis(t)
	redisURL := "redis://" + rds.Addr + "/0"
	d := startDemo(t, "--traffic=false", "--redis", redisURL)
	d.warm(t, "acme", "/")
	rds.StopSaving()
	desc := "Edited while Redis was down"
	begin := time.Now()
	r := send(t, http.MethodPost, d.gateway, d.host("acme"), "/edit", strings.NewReader(`{"description":"`+desc+`"}`),
		"Authorization: Bearer demo-editor", "Content-Type: application/json")
	var res struct {
		Description string `json:"description"`
		Applied     bool   `json:"applied"`
		Note        string `json:"note"`
	}
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != http.StatusOK {
		t.Fatalf("POST /edit with Redis down: %v: %s", r, r.body)
	}
	if res.Description != desc || res.Applied || !strings.Contains(res.Note, "reload shows the change") || !strings.Contains(res.Note, "Redis") {
		t.Fatalf("POST /edit with Redis down answered %+v after %v", res, time.Since(begin))
	}
	shows := func(d *demo) {
		t.Helper()
		page := d.get(t, "acme", "/")
		if m := descriptionRE.FindStringSubmatch(page.body); m == nil || m[1] != desc {
			t.Fatalf("acme / shows %q (%v), want the edit", m, page)
		}
	}
	shows(d)
	// Redis comes back with the old page in it; the coordinator's retry
	// may not have run yet, and the reload must not show the old page.
	rds.Start()
	for range 3 {
		shows(d)
	}
}
