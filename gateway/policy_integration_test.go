package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/tagging"
)

// originWith answers with the header lines given ("Name: value") and a
// body, counting requests.
func originWith(status int, lines ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, l := range lines {
			k, v, _ := strings.Cut(l, ":")
			w.Header().Add(k, strings.TrimSpace(v))
		}
		w.WriteHeader(status)
		io.WriteString(w, "body")
	}
}

// allInternal are the origin's headers that policy must remove or replace.
var allInternal = []string{
	"Surrogate-Key: product:1 product",
	"Cache-Tag: gallery:acme",
	"Edge-Cache-Tag: edge",
	"Xkey: x1",
	"CDN-Cache-Control: max-age=999",
	"Surrogate-Control: max-age=999",
	"Cloudflare-CDN-Cache-Control: max-age=999",
	"Expires: Thu, 01 Jan 2099 00:00:00 GMT",
}

func publicRule(r *http.Request) policy.Decision {
	ttl := time.Hour
	return policy.Decision{
		Rule: "profile", Tenant: "acme", TTL: &ttl,
		BrowserCacheControl: "public, max-age=60",
		CDNCacheControl:     "max-age=86400", CDNCacheControlHeader: tagging.HeaderCloudflareCacheControl,
		Tags: []string{"company:acme"}, Locales: []string{"en", "de"},
	}
}

func cloudflare(t *testing.T) *tagging.Emitter {
	t.Helper()
	em, err := tagging.NewEmitter(tagging.EmitterConfig{Provider: tagging.ProviderCloudflare})
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// Each decision's response leaves with exactly the headers the policy
// promises, on the miss and (where stored) on the hit; "-" means absent.
func TestResponseHeadersPerDecision(t *testing.T) {
	private := func(reason string) func(*http.Request) policy.Decision {
		return func(*http.Request) policy.Decision {
			return policy.Decision{Rule: "account", Tenant: "acme", Private: true, PrivateReason: reason}
		}
	}
	noCDN := map[string]string{
		"Cdn-Cache-Control": "-", "Surrogate-Control": "-", "Cloudflare-Cdn-Cache-Control": "-",
		"Cache-Tag": "-", "Surrogate-Key": "-", "Edge-Cache-Tag": "-", "Xkey": "-", "Expires": "-",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		decide  func(*http.Request) policy.Decision
		status  int
		origin  []string
		want    map[string]string
		stored  bool
		cacheSt string
	}{
		{
			name: "public rule", decide: publicRule, status: 200,
			origin: append([]string{"Cache-Control: private, max-age=5"}, allInternal[:4]...),
			// An origin's "private" is not stored, and so not announced
			// as public either: it reaches the client unchanged.
			want:    with(noCDN, "Cache-Control", "private, max-age=5", "Vary", "-"),
			cacheSt: "detail=origin-private",
		},
		{
			name: "public rule, public origin", decide: publicRule, status: 200,
			origin: append([]string{"Cache-Control: max-age=5"}, allInternal...),
			want: map[string]string{
				"Cache-Control": "public, max-age=60", "Cloudflare-Cdn-Cache-Control": "max-age=86400",
				"Vary": "Accept-Language", "Expires": "-", "Surrogate-Key": "-", "Edge-Cache-Tag": "-", "Xkey": "-",
				"Cache-Tag": "acme:product:1,acme:product,acme:gallery:acme,acme:edge,acme:x1,acme:company:acme,acme:url:/p,acme:path:/,acme:path:/p",
				// The origin's other CDN headers pass: a CDN is configured;
				// its CDN-Cache-Control gives way to the rule's directives.
				"Cdn-Cache-Control": "-", "Surrogate-Control": "max-age=999",
			},
			stored: true, cacheSt: "fwd=miss",
		},
		{
			name: "private: authorization", decide: private("authorization"), status: 200,
			origin: append([]string{"Cache-Control: public, max-age=60", "Vary: Accept-Encoding"}, allInternal...),
			want:   with(noCDN, "Cache-Control", "private, no-store", "Vary", "Accept-Encoding, Authorization"),
		},
		{
			name: "private: session cookie", decide: private("cookie:sessionid"), status: 200,
			origin: append([]string{"Cache-Control: public, max-age=60"}, allInternal...),
			want:   with(noCDN, "Cache-Control", "private, no-store", "Vary", "Cookie"),
		},
		{
			name: "private: route", decide: private("route:account"), status: 200,
			origin: append([]string{"Cache-Control: public, max-age=60"}, allInternal...),
			want:   with(noCDN, "Cache-Control", "private, no-store", "Vary", "Authorization, Cookie"),
		},
		{
			name: "staff bypass", status: 200,
			decide: func(r *http.Request) policy.Decision {
				d := publicRule(r)
				d.Bypass, d.BypassReason = true, "cookie:staff_preview"
				return d
			},
			origin: append([]string{"Cache-Control: public, max-age=60"}, allInternal...),
			want:   with(noCDN, "Cache-Control", "no-store", "Vary", "Cookie"),
		},
		{
			name: "staff bypass by header", status: 200,
			decide: func(r *http.Request) policy.Decision {
				d := publicRule(r)
				d.Bypass, d.BypassReason = true, "header:X-Preview"
				return d
			},
			origin: []string{"Cache-Control: public, max-age=60"},
			want:   with(noCDN, "Cache-Control", "no-store", "Vary", "X-Preview"),
		},
		{
			name: "set-cookie on a public rule", decide: publicRule, status: 200,
			origin:  append([]string{"Cache-Control: public, max-age=60", "Set-Cookie: id=1"}, allInternal...),
			want:    with(noCDN, "Cache-Control", "private, no-store", "Vary", "Authorization, Cookie"),
			cacheSt: "fwd=miss",
		},
		{
			name: "origin no-store on a public rule", decide: publicRule, status: 200,
			origin:  append([]string{"Cache-Control: no-store"}, allInternal[:4]...),
			want:    with(noCDN, "Cache-Control", "no-store", "Vary", "-"),
			cacheSt: "fwd=miss",
		},
		{
			name: "origin error on a public rule", decide: publicRule, status: 500,
			// Stored, as any status with explicit freshness is, but the
			// rule's directives and tags are for pages, not errors.
			origin:  append([]string{"Cache-Control: max-age=5"}, allInternal[:4]...),
			want:    with(noCDN, "Cache-Control", "max-age=5"),
			stored:  true,
			cacheSt: "fwd-status=500",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, originWith(tt.status, tt.origin...))
			g := startGateway(t, o, func(c *gateway.Config) {
				c.Policy = gateway.PolicyFunc(tt.decide)
				c.TagEmitter = cloudflare(t)
			})
			for i := range 2 {
				r := g.get(t, "/p")
				for k, want := range tt.want {
					got := strings.Join(r.header.Values(k), ", ")
					if want == "-" && got != "" || want != "-" && got != want {
						t.Errorf("request %d: %s = %q, want %q", i, k, got, want)
					}
				}
				switch {
				case i == 1 && tt.stored:
					wantStatus(t, r, "hit")
				case tt.stored:
					wantStatus(t, r, tt.cacheSt, "stored")
				case tt.cacheSt != "":
					wantStatus(t, r, tt.cacheSt)
					wantNoStatus(t, r, "stored")
				default:
					if r.cacheStatus() != "cachegate; fwd=bypass" {
						t.Errorf("Cache-Status %q", r.cacheStatus())
					}
				}
			}
			want := int64(2)
			if tt.stored {
				want = 1
			}
			if n := o.requests.Load(); n != want {
				t.Fatalf("origin saw %d requests, want %d", n, want)
			}
		})
	}
}

// Without a CDN, what the origin addressed to one never reaches a client;
// CDN directives the policy sets still do.
func TestNoCDNRemovesOriginCDNHeaders(t *testing.T) {
	o := startOrigin(t, originWith(200, append([]string{"Cache-Control: max-age=60"}, allInternal...)...))
	plain := startGateway(t, o, nil)
	ruled := startGateway(t, o, func(c *gateway.Config) { c.Policy = gateway.PolicyFunc(publicRule) })
	for range 2 {
		r := plain.get(t, "/")
		for _, k := range tagging.InternalHeaders() {
			if v := r.header.Values(k); len(v) > 0 {
				t.Errorf("no policy, no CDN: %s = %q reached the client", k, v)
			}
		}
		r = ruled.get(t, "/")
		if got := r.header.Get("Cloudflare-CDN-Cache-Control"); got != "max-age=86400" {
			t.Errorf("policy's CDN directive %q", got)
		}
		for _, k := range []string{"Cdn-Cache-Control", "Surrogate-Control", "Cache-Tag", "Surrogate-Key", "Edge-Cache-Tag", "Xkey"} {
			if v := r.header.Values(k); len(v) > 0 {
				t.Errorf("policy, no CDN: %s = %q reached the client", k, v)
			}
		}
	}
}

func TestServerAndVia(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		server *string
		via    bool
		want   string // Server; "-" absent
		wantV  []string
	}{
		{"defaults pass the origin's Server, no Via", nil, false, "origin/1", []string{"1.0 upstream"}},
		{"removed", str(""), true, "-", []string{"1.0 upstream", "1.1 cachegate"}},
		{"replaced", str("cachegate"), true, "cachegate", []string{"1.0 upstream", "1.1 cachegate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, originWith(200, "Cache-Control: max-age=60", "Server: origin/1", "Via: 1.0 upstream"))
			g := startGateway(t, o, func(c *gateway.Config) { c.ServerHeader, c.Via = tt.server, tt.via })
			// Miss, hit, hit (the entry's header must not grow), private.
			for i, hdr := range []string{"", "", "", "Authorization: x"} {
				var r result
				if hdr == "" {
					r = g.get(t, "/")
				} else {
					r = g.get(t, "/", hdr)
				}
				if got := r.header.Get("Server"); tt.want == "-" && got != "" || tt.want != "-" && got != tt.want {
					t.Errorf("response %d: Server %q want %q", i, got, tt.want)
				}
				if got := r.header.Values("Via"); strings.Join(got, "|") != strings.Join(tt.wantV, "|") {
					t.Errorf("response %d: Via %q want %q", i, got, tt.wantV)
				}
			}
		})
	}
	t.Run("gateway's own error", func(t *testing.T) {
		o := startOrigin(t, originWith(200))
		g := startGateway(t, o, func(c *gateway.Config) { c.ServerHeader, c.Via = ptr("cachegate"), true })
		o.srv.Close()
		r := g.get(t, "/")
		if r.status != http.StatusBadGateway || r.header.Get("Server") != "cachegate" || r.header.Get("Via") != "1.1 cachegate" {
			t.Fatalf("%d Server %q Via %q", r.status, r.header.Get("Server"), r.header.Get("Via"))
		}
		wantStatus(t, r, "fwd=uri-miss", "detail=origin-error")
	})
}

func ptr[T any](v T) *T { return &v }

// RFC 9211 forward reasons: uri-miss when the cache holds nothing for the
// URI (never seen, or invalidated: the stores remove), vary-miss when it
// holds another variant, miss where it cannot tell (locale-keyed), method
// for methods a cache does not serve, bypass for private requests.
func TestForwardReasons(t *testing.T) {
	o := startOrigin(t, originWith(200, "Cache-Control: max-age=60", "Vary: Accept-Encoding"))
	g := startGateway(t, o, nil)
	wantStatus(t, g.get(t, "/v", "Accept-Encoding: gzip"), "fwd=uri-miss", "stored")
	wantStatus(t, g.get(t, "/v", "Accept-Encoding: gzip"), "hit")
	wantStatus(t, g.get(t, "/v", "Accept-Encoding: br"), "fwd=vary-miss", "stored")
	if err := g.InvalidateTags(context.Background(), "acme", "url:/v"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, g.get(t, "/v", "Accept-Encoding: gzip"), "fwd=uri-miss", "stored")
	wantStatus(t, g.do(t, http.MethodPost, "acme", "/v"), "fwd=method")
	if r := g.get(t, "/v", "Authorization: x"); r.cacheStatus() != "cachegate; fwd=bypass" {
		t.Fatalf("private: %q", r.cacheStatus())
	}

	localized := startGateway(t, o, func(c *gateway.Config) { c.Policy = gateway.PolicyFunc(publicRule) })
	wantStatus(t, localized.get(t, "/l", "Accept-Language: de"), "fwd=miss", "stored")
	wantStatus(t, localized.get(t, "/l", "Accept-Language: de-AT"), "hit")
}

// A 304 that brings a Set-Cookie answers its client privately and does
// not refresh the entry with that cookie.
func TestRevalidationWithSetCookieNotStored(t *testing.T) {
	var cookies atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			if cookies.Add(1) == 1 { // only the first revalidation's client gets one
				w.Header().Set("Set-Cookie", "sid=someone")
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "page")
	})
	g := startGateway(t, o, nil)
	wantStatus(t, g.get(t, "/"), "stored")
	g.advance(2 * time.Second)
	r := g.get(t, "/")
	if r.body != "page" || r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("revalidated: %q, Cache-Control %q", r.body, r.header.Get("Cache-Control"))
	}
	wantNoStatus(t, r, "stored")
	for range 2 {
		// The entry is still stale (the cookie's 304 did not refresh it):
		// the next client revalidates, and then hits.
		if r := g.get(t, "/"); len(r.header["Set-Cookie"]) > 0 || r.body != "page" {
			t.Fatalf("another client got the cookie: %q (%s)", r.header["Set-Cookie"], r.cacheStatus())
		}
	}
}
