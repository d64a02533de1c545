package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

// A page with 5,000 tags (about 70 KB of Surrogate-Key) is stored and
// served as a hit, its CDN header fits Fastly's 16,384 bytes, and purging
// one of its tags, one kept by name or one that fell back to its bucket,
// removes it from L1 and the shared L2 and reaches it at the CDN.
func TestManyTagsStoredAndPurgeable(t *testing.T) {
	r := testenv.StartRedis(t)
	const n = 5000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("product:%05d", i)
	}
	var version atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", strings.Join(tags, " "))
		fmt.Fprintf(w, "v%d", version.Add(1))
	})
	l2 := redisL2(t, r.Addr)
	fastly, err := tagging.NewEmitter(tagging.EmitterConfig{Provider: tagging.ProviderFastly})
	if err != nil {
		t.Fatal(err)
	}
	mod := func(c *gateway.Config) { c.L2, c.FillLock, c.TagEmitter = l2, l2, fastly }
	a, b := startGateway(t, o, mod), startGateway(t, o, mod)

	first := a.get(t, "/catalog")
	wantStatus(t, first, "stored")
	sent := first.header.Values("Surrogate-Key")
	if len(sent) != 1 || len(sent[0]) > 16384 {
		t.Fatalf("Surrogate-Key: %d lines, %d bytes; want one within 16,384", len(sent), len(strings.Join(sent, "")))
	}
	names := strings.Fields(sent[0])
	for _, tag := range tags {
		if !slices.Contains(names, invalidation.CDNTag("acme", tag)) && !slices.Contains(names, invalidation.CDNTag("acme", tagging.FallbackTag(tag))) {
			t.Fatalf("tag %q reaches the CDN neither by name nor by its fallback", tag)
		}
	}
	if got := counterValue(t, a, "cachegate_origin_tag_fallbacks_total"); got != n-tagging.MaxResponseTags {
		t.Fatalf("tag fallbacks counted %v, want %d", got, n-tagging.MaxResponseTags)
	}
	wantStatus(t, a.get(t, "/catalog"), "hit; detail=l1")
	wantStatus(t, b.get(t, "/catalog"), "hit; detail=l2")

	want := 1
	for _, tag := range []string{"product:04321", "product:00007"} { // past the cap, and kept by name
		req := invalidation.Request{Tenant: "acme", Tags: []string{tag}}
		if err := a.Invalidate(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if err := b.InvalidateLocal(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		cdn := tagging.CDNPurgeTags("acme", []string{tag})
		if !slices.ContainsFunc(cdn, func(c string) bool { return slices.Contains(names, c) }) {
			t.Fatalf("a CDN purge of %q (%q) misses the response's header", tag, cdn)
		}
		want++
		// b first: its L1 and L2 must both have lost the page.
		res := b.get(t, "/catalog")
		if res.body != fmt.Sprintf("v%d", want) {
			t.Fatalf("after purging %q: %q (%s)", tag, res.body, res.cacheStatus())
		}
		if res := a.get(t, "/catalog"); res.body != fmt.Sprintf("v%d", want) {
			t.Fatalf("after purging %q, a serves %q (%s)", tag, res.body, res.cacheStatus())
		}
	}
}

func counterValue(t *testing.T, g *gw, name string) int {
	t.Helper()
	return int(metricValue(t, g, name))
}

// metricValue is the value of the counter or gauge name (its first series).
func metricValue(t *testing.T, g *gw, name string) float64 {
	t.Helper()
	mfs, err := g.cfg.Metrics.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
