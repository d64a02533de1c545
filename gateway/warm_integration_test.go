package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/policy"
)

// startTaggedOrigin counts requests per path (origin.paths) and tags each
// response with the tags after the path's "~" ("/a~gallery,x").
func startTaggedOrigin(t *testing.T) *origin {
	var mu sync.Mutex
	n := map[string]int{}
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n[r.URL.Path]++
		v := n[r.URL.Path]
		mu.Unlock()
		if _, tags, ok := strings.Cut(r.URL.Path, "~"); ok {
			w.Header().Set("Surrogate-Key", strings.ReplaceAll(tags, ",", " "))
		}
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s v%d", r.URL.Path, v)
	})
}

func warmOn(c *gateway.Config) { c.Warm = gateway.WarmConfig{Enabled: true} }

func awaitWarm(t *testing.T, g *gw, want func(gateway.WarmStats) bool) gateway.WarmStats {
	t.Helper()
	var s gateway.WarmStats
	testenv.WaitFor(t, 5*time.Second, func() error {
		if s = g.WarmStats(); !want(s) {
			return fmt.Errorf("warm stats %+v", s)
		}
		return nil
	})
	return s
}

// TestWarmAfterInvalidation: the hot URLs that carried an invalidated tag
// are fetched again before any client asks, and the next client hits; a
// URL without the tag is not refetched.
func TestWarmAfterInvalidation(t *testing.T) {
	o := startTaggedOrigin(t)
	g := startGateway(t, o, warmOn)
	hot := []string{"/a~gallery:acme", "/b~gallery:acme,x", "/c~other"}
	for i, p := range hot {
		for range 3 - i {
			g.get(t, p)
		}
	}
	if err := g.InvalidateTags(context.Background(), "acme", "gallery:acme"); err != nil {
		t.Fatal(err)
	}
	awaitWarm(t, g, func(s gateway.WarmStats) bool { return s.Fetched == 2 })
	for _, p := range hot[:2] {
		if n := o.paths(p); n != 2 {
			t.Errorf("%s: origin saw %d requests, want 2 (the fill and the refetch)", p, n)
		}
		r := g.get(t, p)
		wantStatus(t, r, "hit")
		if !strings.HasSuffix(r.body, "v2") {
			t.Errorf("%s: body %q, want the refetched v2", p, r.body)
		}
	}
	if n := o.paths("/c~other"); n != 1 {
		t.Errorf("/c~other: origin saw %d requests, want 1", n)
	}
	// Refetches are not client requests.
	if s := g.stats.Snapshot(); s.Requests != 3+2+1+2 {
		t.Errorf("stats count %d requests, want 8 (the clients')", s.Requests)
	}
}

// TestWarmNeverPrivate: requests of private routes and with credentials
// are never tracked, and a URL whose route became private is not
// requested.
func TestWarmNeverPrivate(t *testing.T) {
	o := startTaggedOrigin(t)
	var privateB atomic.Bool
	g := startGateway(t, o, func(c *gateway.Config) {
		warmOn(c)
		c.Policy = gateway.PolicyFunc(func(r *http.Request) policy.Decision {
			d := gateway.DefaultPolicy{SessionCookies: []string{"sessionid"}}.Decide(r)
			if strings.HasPrefix(r.URL.Path, "/account") || strings.HasPrefix(r.URL.Path, "/b") && privateB.Load() {
				d.Private, d.PrivateReason = true, "route"
			}
			return d
		})
	})
	for range 5 {
		g.get(t, "/account~t")
		g.get(t, "/creds~t", "Authorization: Bearer x")
		g.get(t, "/cookie~t", "Cookie: sessionid=1")
	}
	g.get(t, "/a~t")
	g.get(t, "/b~t")
	privateB.Store(true)
	if err := g.InvalidateTags(context.Background(), "acme", "t"); err != nil {
		t.Fatal(err)
	}
	s := awaitWarm(t, g, func(s gateway.WarmStats) bool { return s.Fetched+s.SkippedPrivate == 2 })
	if s.Fetched != 1 || s.SkippedPrivate != 1 {
		t.Errorf("warm stats %+v, want /a fetched and /b skipped", s)
	}
	for p, want := range map[string]int{"/account~t": 5, "/creds~t": 5, "/cookie~t": 5, "/a~t": 2, "/b~t": 1} {
		if n := o.paths(p); n != want {
			t.Errorf("%s: origin saw %d requests, want %d", p, n, want)
		}
	}
}

// TestWarmRateLimited: a burst of 2 and a rate that gives no more tokens
// within the test let exactly 2 of 5 hot URLs be refetched; the other 3
// are counted as skipped, left to their next reader.
func TestWarmRateLimited(t *testing.T) {
	o := startTaggedOrigin(t)
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Warm = gateway.WarmConfig{Enabled: true, Rate: 0.0001, Burst: 2}
	})
	var paths []string
	for i := range 5 {
		p := fmt.Sprintf("/p%d~t", i)
		paths = append(paths, p)
		for range 5 - i {
			g.get(t, p)
		}
	}
	if err := g.InvalidateTags(context.Background(), "acme", "t"); err != nil {
		t.Fatal(err)
	}
	s := awaitWarm(t, g, func(s gateway.WarmStats) bool { return s.Fetched+s.SkippedRate == 5 })
	if s.Fetched != 2 || s.SkippedRate != 3 {
		t.Fatalf("warm stats %+v, want 2 fetched, 3 skipped", s)
	}
	// The two most requested were warmed.
	for i, p := range paths {
		want := 1
		if i < 2 {
			want = 2
		}
		if n := o.paths(p); n != want {
			t.Errorf("%s: origin saw %d requests, want %d", p, n, want)
		}
	}
}

// TestWarmJob: an on-demand job warms every URL it is given (waiting on
// the rate limit rather than skipping), reports its progress, and refuses
// URLs of another tenant.
func TestWarmJob(t *testing.T) {
	o := startTaggedOrigin(t)
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Warm = gateway.WarmConfig{Rate: 1000, Burst: 1} // tracking off: jobs still run
	})
	base := "http://acme"
	urls := []string{base + "/x~t", base + "/y~t", base + "/y~t"}
	id, err := g.StartWarm(context.Background(), "acme", urls)
	if err != nil {
		t.Fatal(err)
	}
	var p gateway.WarmProgress
	testenv.WaitFor(t, 5*time.Second, func() error {
		if p, err = g.WarmProgress(id); err != nil || !p.Finished {
			return fmt.Errorf("progress %+v, %v", p, err)
		}
		return nil
	})
	if p.Total != 3 || p.Done != 3 || p.Fetched != 2 || p.Fresh != 1 || p.Failed != 0 {
		t.Errorf("progress %+v", p)
	}
	wantStatus(t, g.get(t, "/x~t"), "hit")
	if n := o.paths("/y~t"); n != 1 {
		t.Errorf("/y~t fetched %d times, want 1", n)
	}
	for _, bad := range [][]string{{"http://berg/x"}, {"/relative"}, nil} {
		if _, err := g.StartWarm(context.Background(), "acme", bad); !errors.Is(err, gateway.ErrBadWarm) {
			t.Errorf("StartWarm(%q) = %v, want ErrBadWarm", bad, err)
		}
	}
	if _, err := g.WarmProgress("nope"); !errors.Is(err, gateway.ErrWarmNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

// TestWarmJobsBounded: the progress of at most MaxWarmJobs jobs is kept;
// the oldest finished one is forgotten first.
func TestWarmJobsBounded(t *testing.T) {
	o := startTaggedOrigin(t)
	g := startGateway(t, o, func(c *gateway.Config) { c.Warm = gateway.WarmConfig{Rate: 1e6, OriginRate: 1e6, Burst: 1000} })
	var ids []string
	for i := range gateway.MaxWarmJobs + 1 {
		id, err := g.StartWarm(context.Background(), "acme", []string{fmt.Sprintf("http://acme/j%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		testenv.WaitFor(t, 5*time.Second, func() error {
			if p, err := g.WarmProgress(id); err != nil || !p.Finished {
				return fmt.Errorf("job %d: %+v %v", i, p, err)
			}
			return nil
		})
	}
	if _, err := g.WarmProgress(ids[0]); !errors.Is(err, gateway.ErrWarmNotFound) {
		t.Errorf("the oldest job is still kept: %v", err)
	}
	for _, id := range ids[1:] {
		if _, err := g.WarmProgress(id); err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
	}
}

// TestWarmTenantsBounded: past MaxTenants, a tenant's requests are not
// tracked, so its invalidations warm nothing; the first tenant's still do.
func TestWarmTenantsBounded(t *testing.T) {
	o := startTaggedOrigin(t)
	g := startGateway(t, o, func(c *gateway.Config) { c.Warm = gateway.WarmConfig{Enabled: true, MaxTenants: 1} })
	g.do(t, http.MethodGet, "acme", "/a~t")
	g.do(t, http.MethodGet, "berg", "/b~t")
	if err := g.InvalidateTags(context.Background(), "berg", "t"); err != nil {
		t.Fatal(err)
	}
	if err := g.InvalidateTags(context.Background(), "acme", "t"); err != nil {
		t.Fatal(err)
	}
	awaitWarm(t, g, func(s gateway.WarmStats) bool { return s.Fetched == 1 })
	if n := o.paths("/b~t"); n != 1 {
		t.Errorf("berg's /b~t fetched %d times, want 1 (untracked tenant)", n)
	}
	if n := o.paths("/a~t"); n != 2 {
		t.Errorf("acme's /a~t fetched %d times, want 2", n)
	}
}
