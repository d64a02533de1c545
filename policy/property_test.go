package policy

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

// randomPolicy builds a valid policy from a seeded generator: random rule
// matches over a small vocabulary, so that requests drawn from the same
// vocabulary hit every rule, some private, some with bypass, tags and TTLs.
func randomPolicy(rng *rand.Rand) (Config, *Policy) {
	paths := []string{"/", "/a", "/a/{id}", "/a/{id}/**", "/b/*.json", "/b", "/c/{x}/d", "/account"}
	methods := []string{"GET", "POST", "DELETE"}
	cookies := []string{"ab", "theme", "staff"}
	hdrs := []string{"X-Variant", "X-Debug"}
	modes := []TenantConfig{
		{},
		{Hosts: map[string]string{"shop.one.test": "one", "*.two.test": "two"}},
		{By: TenantBySubdomain, Domains: []string{"test"}},
		{By: TenantByHeader, Header: "X-Tenant"},
		{By: TenantByPathPrefix},
	}
	for {
		cfg := Config{Tenants: modes[rng.IntN(len(modes))]}
		if rng.IntN(3) == 0 {
			cfg.SessionCookies = []string{"sid", "auth"}
		}
		n := rng.IntN(6)
		for i := 0; i < n; i++ {
			rc := RuleConfig{Name: fmt.Sprintf("r%d", i)}
			if rng.IntN(4) > 0 {
				rc.Match.Path = paths[rng.IntN(len(paths))]
			}
			if rng.IntN(3) == 0 {
				rc.Match.Methods = []string{methods[rng.IntN(len(methods))]}
			}
			if rng.IntN(4) == 0 {
				rc.Match.Cookies = []string{cookies[rng.IntN(len(cookies))]}
			}
			if rng.IntN(4) == 0 {
				rc.Match.Headers = []string{hdrs[rng.IntN(len(hdrs))]}
			}
			if rng.IntN(3) == 0 {
				rc.Private = true
			} else {
				rc.TTL = dur(time.Duration(rng.IntN(100)) * time.Second)
				rc.Browser = "public, max-age=60"
				rc.CDN = "max-age=600"
				rc.Tags = []string{"t:{tenant}", "p:{path}"}
				if rng.IntN(3) == 0 {
					rc.StaffBypass = StaffBypass{Cookie: "staff", Header: "X-Debug"}
				}
			}
			cfg.Rules = append(cfg.Rules, rc)
		}
		if rng.IntN(2) == 0 {
			cfg.Default = RuleConfig{Browser: "public, max-age=5", Tags: []string{"d"}}
		}
		p, err := Compile(cfg)
		if err == nil {
			return cfg, p
		}
		// Shadowed rules are rejected; draw again.
	}
}

func randomRequest(rng *rand.Rand) *http.Request {
	hosts := []string{"one.test", "shop.one.test", "x.two.test", "ACME.test:8080", "berg.test.", "[::1]:80", "", "a.b.test"}
	paths := []string{"/", "/a", "/a/1", "/a/1/x", "/b/x.json", "/b", "/c/9/d", "/account", "/acme/a/1", "/Berg/b", "/a%20b/c"}
	methods := []string{"GET", "HEAD", "POST", "DELETE"}
	r := httptest.NewRequest(methods[rng.IntN(len(methods))], "http://placeholder"+paths[rng.IntN(len(paths))], nil)
	r.Host = hosts[rng.IntN(len(hosts))]
	r.URL.Host = "" // as on a server request, where only r.Host is set
	var cookies []string
	for _, c := range []string{"ab=1", "theme=dark", "staff=1", "sid=s", "sessionid=x", "session=y", "auth=z", "sessionidx=1"} {
		if rng.IntN(5) == 0 {
			cookies = append(cookies, c)
		}
	}
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	if rng.IntN(6) == 0 {
		r.Header.Set("Authorization", "Bearer t")
	}
	for _, h := range []string{"X-Variant", "X-Debug"} {
		if rng.IntN(4) == 0 {
			r.Header.Set(h, "1")
		}
	}
	if rng.IntN(2) == 0 {
		r.Header.Set("X-Tenant", []string{"acme", "Berg", "bad tenant", ""}[rng.IntN(4)])
	}
	return r
}

// expectedTenant derives the tenant independently of the resolver;
// UnresolvedTenant when it cannot (the random modes set no Fallback).
func expectedTenant(tc TenantConfig, r *http.Request) string {
	host := strings.ToLower(r.Host)
	if strings.HasPrefix(host, "[") {
		host = host[:strings.IndexByte(host, ']')+1]
	} else if i := strings.LastIndex(host, ":"); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	valid := func(t string) string {
		if invalidation.ValidateTenant(t) != nil {
			return UnresolvedTenant
		}
		return t
	}
	if t, ok := tc.Hosts[host]; ok {
		return t
	}
	if strings.HasSuffix(host, ".two.test") && tc.Hosts["*.two.test"] != "" {
		return "two"
	}
	switch tc.By {
	case TenantBySubdomain:
		if rest, ok := strings.CutSuffix(host, ".test"); ok && rest != "" {
			parts := strings.Split(rest, ".")
			return valid(parts[len(parts)-1])
		}
		return UnresolvedTenant
	case TenantByHeader:
		return valid(strings.ToLower(strings.TrimSpace(r.Header.Get("X-Tenant"))))
	case TenantByPathPrefix:
		seg := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		return valid(strings.ToLower(seg))
	}
	return valid(host)
}

// TestDecidePrivacyProperty: for random policies and requests, a request
// with Authorization or a session cookie is always private; a private
// decision carries nothing that lets a shared layer or the CDN keep it; the
// tenant is always the configured derivation and always valid.
func TestDecidePrivacyProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		cfg, p := randomPolicy(rng)
		session := cfg.SessionCookies
		if session == nil {
			session = DefaultSessionCookies()
		}
		for j := 0; j < 100; j++ {
			r := randomRequest(rng)
			d := p.Decide(r)
			authed := r.Header.Get("Authorization") != "" || firstCookie(r.Header, session) >= 0
			if authed && !d.Private {
				t.Fatalf("policy %+v\nrequest %s %s %v\n-> non-private decision %+v", cfg, r.Method, r.URL, r.Header, d)
			}
			if d.Private && (d.TTL != nil || d.BrowserCacheControl != "" || d.CDNCacheControl != "" || len(d.Tags) > 0 || d.Bypass) {
				t.Fatalf("private decision carries caching settings: %+v", d)
			}
			if want := expectedTenant(cfg.Tenants, r); d.Tenant != want {
				t.Fatalf("tenant mode %+v, host %q path %q header %q: tenant %q, want %q",
					cfg.Tenants, r.Host, r.URL.Path, r.Header.Get("X-Tenant"), d.Tenant, want)
			}
			if d.Tenant == UnresolvedTenant && !d.Private && (!d.Bypass || d.BypassReason != BypassUnresolvedTenant) {
				t.Fatalf("unresolved tenant not bypassed: %+v", d)
			}
			if err := invalidation.ValidateTenant(d.Tenant); err != nil {
				t.Fatalf("invalid tenant in decision: %v", err)
			}
			for _, tag := range d.Tags {
				if err := invalidation.ValidateTag(tag); err != nil {
					t.Fatalf("decision tag: %v", err)
				}
			}
			h := http.Header{"Cache-Control": {"public, max-age=999"}, "Surrogate-Key": {"a b"}, "Cdn-Cache-Control": {"max-age=9"}}
			tags := ApplyResponse(d, h)
			if d.Private || d.Bypass {
				if cc := h.Get("Cache-Control"); !strings.Contains(cc, "no-store") || len(tags) > 0 {
					t.Fatalf("private/bypass response headers %v, tags %v", h, tags)
				}
				for _, k := range tagging.InternalHeaders() {
					if h.Get(k) != "" {
						t.Fatalf("private/bypass response keeps %s", k)
					}
				}
			}
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := demoPolicy(b)
	cases := []struct {
		name string
		r    *http.Request
	}{
		{"profile", req("GET", "http://acme.localhost/", "Accept-Language", "de", "Cookie", "theme=dark; _ga=GA1.1.1")},
		{"static-tags", req("GET", "http://acme.localhost/companies")},
		{"params", req("GET", "http://acme.localhost/products/42/reviews")},
		{"private-cookie", req("GET", "http://acme.localhost/", "Cookie", "theme=dark; sessionid=abc")},
		{"private-route", req("GET", "http://acme.localhost/account")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.Decide(c.r)
			}
		})
	}
	b.Run("default-policy", func(b *testing.B) {
		dp := DefaultPolicy()
		r := req("GET", "http://acme.localhost/x", "Cookie", "theme=dark")
		b.ReportAllocs()
		for b.Loop() {
			_ = dp.Decide(r)
		}
	})
}
