package policy_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/tagging"
)

// A response with Set-Cookie is never stored, even on a route whose rule
// sets a TTL, and leaves as "private, no-store" with its cookie for its
// own client only.
func TestSetCookieNeverStored(t *testing.T) {
	o := startEchoOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pub/login" {
			w.Header().Set("Set-Cookie", "sessionid=new; Path=/; HttpOnly")
		}
	})
	n := nodetest.Start(t, nodetest.Options{Origin: o.url, File: parse(t, "property.yaml", propertyPolicy)})
	for _, path := range []string{"/setcookie/1", "/pub/login"} {
		before := o.seq.Load()
		markers := map[int64]bool{}
		for i := range 3 {
			r := get(t, n.URL, "acme.localhost", path)
			what := fmt.Sprintf("%s request %d", path, i+1)
			m, ok := marker(r.body)
			if !ok || markers[m] {
				t.Fatalf("%s: marker %d seen before (%q): served from a cache", what, m, r.body)
			}
			markers[m] = true
			if len(r.header.Values("Set-Cookie")) != 1 {
				t.Errorf("%s: Set-Cookie %q, want the origin's one cookie", what, r.header.Values("Set-Cookie"))
			}
			wantHeaders(t, what, r, merge(noCDN, map[string]string{"Cache-Control": "private, no-store"}))
			if cs := r.cacheStatus(); strings.Contains(cs, "stored") || strings.Contains(cs, "hit") {
				t.Errorf("%s: Cache-Status %q", what, cs)
			}
		}
		if got := o.seq.Load() - before; got != 3 {
			t.Fatalf("%s: origin answered %d of 3 requests", path, got)
		}
	}
}

// An origin naming more tags than Cloudflare's 16 KB Cache-Tag holds: the
// header stays within the limit, every tag is either there or stands in
// through its fallback bucket (never silently dropped), on the miss and
// on the hit, and the fallbacks are counted in the node's metrics.
func TestTagOverflowFallsBackWithinLimit(t *testing.T) {
	var many []string
	for i := range 300 {
		many = append(many, fmt.Sprintf("product:%03d:%s", i, strings.Repeat("x", 80)))
	}
	o := startEchoOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pub/many" {
			w.Header().Add("Surrogate-Key", strings.Join(many, " ")) // after the echo origin's t:<tenant>
		}
	})
	n := nodetest.Start(t, nodetest.Options{Origin: o.url, File: parse(t, "property.yaml", propertyPolicy)})
	format, err := tagging.FormatFor(tagging.ProviderCloudflare)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, many...), "t:acme", "url:/pub/many", "path:/", "path:/pub", "path:/pub/many")
	for i, status := range []string{"fwd=uri-miss", "hit"} {
		r := get(t, n.URL, "acme.localhost", "/pub/many")
		if !strings.Contains(r.cacheStatus(), status) {
			t.Fatalf("request %d: Cache-Status %q, want %s", i+1, r.cacheStatus(), status)
		}
		if len(r.header.Values("Cache-Tag")) != 1 {
			t.Fatalf("request %d: %d Cache-Tag fields", i+1, len(r.header.Values("Cache-Tag")))
		}
		v := r.header.Get("Cache-Tag")
		if len(v) > format.MaxHeaderBytes {
			t.Fatalf("request %d: Cache-Tag is %d bytes, over Cloudflare's %d", i+1, len(v), format.MaxHeaderBytes)
		}
		sent := map[string]bool{}
		for tag := range strings.SplitSeq(v, ",") {
			if !strings.HasPrefix(tag, "acme:") {
				t.Fatalf("request %d: tag %q without the tenant's prefix", i+1, tag)
			}
			sent[tag] = true
		}
		direct, fallback := 0, 0
		for _, tag := range want {
			switch {
			case sent["acme:"+tag]:
				direct++
			case sent["acme:"+tagging.FallbackTag(tag)]:
				fallback++
			default:
				t.Errorf("request %d: tag %q neither sent nor covered by its fallback %q", i+1, tag, tagging.FallbackTag(tag))
			}
		}
		if fallback == 0 || direct == 0 {
			t.Fatalf("request %d: %d tags sent, %d through fallbacks: expected both", i+1, direct, fallback)
		}
		if r.header.Get("Surrogate-Key") != "" {
			t.Fatalf("request %d: the origin's Surrogate-Key reached the client", i+1)
		}
	}
	if got := metric(t, n.AdminURL, `cachegate_cdn_tag_fallbacks_total{provider="cloudflare"}`); got <= 0 {
		t.Fatalf("cachegate_cdn_tag_fallbacks_total = %v, want the fallbacks counted", got)
	}
}

// metric reads one sample from the node's /metrics.
func metric(t testing.TB, adminURL, name string) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, adminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics (status %d)", name, resp.StatusCode)
	return 0
}
