package policy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func dur(d time.Duration) *time.Duration { return &d }

// demoPolicy is the policy of the demo site, as config/testdata/demo.yaml
// describes it.
func demoPolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := Compile(Config{
		Tenants: TenantConfig{By: TenantBySubdomain, Domains: []string{"localhost"}},
		Rules: []RuleConfig{
			{Name: "account", Match: MatchConfig{Path: "/account"}, Private: true},
			{Name: "edit", Match: MatchConfig{Path: "/edit", Methods: []string{"POST"}}, Private: true},
			{Name: "companies", Match: MatchConfig{Path: "/companies", Methods: []string{"GET"}},
				TTL: dur(5 * time.Minute), Browser: "public, max-age=60", CDN: "max-age=3600",
				Tags: []string{"company"}, Locales: []string{"en", "de"},
				StaffBypass: StaffBypass{Cookie: "staff_preview"}},
			{Name: "product", Match: MatchConfig{Path: "/products/{id}/**", Methods: []string{"GET"}},
				TTL: dur(time.Hour), Browser: "public, max-age=60", CDN: "max-age=86400", CDNHeader: "Surrogate-Control",
				Tags:        []string{"product:{id}", "{tenant}-products", "page:{path}"},
				StaffBypass: StaffBypass{Header: "X-Staff-Preview"}},
			{Name: "profile", Match: MatchConfig{Path: "/", Methods: []string{"GET"}},
				TTL: dur(24 * time.Hour), StaleWhileRevalidate: dur(time.Minute), StaleIfError: dur(time.Hour),
				Browser: "public, max-age=60", CDN: "max-age=86400, stale-while-revalidate=60",
				Tags: []string{"company:{tenant}"}, Locales: []string{"en", "de"},
				StaffBypass: StaffBypass{Cookie: "staff_preview"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func req(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func TestDecideDemo(t *testing.T) {
	p := demoPolicy(t)
	tests := []struct {
		name string
		r    *http.Request
		want Decision
	}{
		{"profile page", req("GET", "http://acme.localhost:8080/"), Decision{
			Rule: "profile", Tenant: "acme", TTL: dur(24 * time.Hour), StaleWhileRevalidate: dur(time.Minute),
			StaleIfError: dur(time.Hour), BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=86400, stale-while-revalidate=60", CDNCacheControlHeader: "CDN-Cache-Control",
			Tags: []string{"company:acme"}, Locales: []string{"en", "de"}}},
		{"head matches GET rule", req("HEAD", "http://berg.localhost/"), Decision{
			Rule: "profile", Tenant: "berg", TTL: dur(24 * time.Hour), StaleWhileRevalidate: dur(time.Minute),
			StaleIfError: dur(time.Hour), BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=86400, stale-while-revalidate=60", CDNCacheControlHeader: "CDN-Cache-Control",
			Tags: []string{"company:berg"}, Locales: []string{"en", "de"}}},
		{"listing", req("GET", "http://acme.localhost/companies?page=2"), Decision{
			Rule: "companies", Tenant: "acme", TTL: dur(5 * time.Minute), BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=3600", CDNCacheControlHeader: "CDN-Cache-Control",
			Tags: []string{"company"}, Locales: []string{"en", "de"}}},
		{"product params", req("GET", "http://acme.localhost/products/42/reviews"), Decision{
			Rule: "product", Tenant: "acme", TTL: dur(time.Hour), BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=86400", CDNCacheControlHeader: "Surrogate-Control",
			Tags: []string{"product:42", "acme-products", "page:/products/42/reviews"}}},
		{"private route", req("GET", "http://acme.localhost/account"), Decision{
			Rule: "account", Tenant: "acme", Private: true, PrivateReason: "route:account"}},
		{"private subpath", req("GET", "http://acme.localhost/account/settings"), Decision{
			Rule: "account", Tenant: "acme", Private: true, PrivateReason: "route:account"}},
		{"authorization wins over public route", req("GET", "http://acme.localhost/", "Authorization", "Bearer x"), Decision{
			Rule: "profile", Tenant: "acme", Private: true, PrivateReason: "authorization", Locales: []string{"en", "de"}}},
		{"session cookie", req("GET", "http://acme.localhost/companies", "Cookie", "theme=dark; sessionid=abc"), Decision{
			Rule: "companies", Tenant: "acme", Private: true, PrivateReason: "cookie:sessionid", Locales: []string{"en", "de"}}},
		{"other cookie is fine", req("GET", "http://acme.localhost/companies", "Cookie", "theme=dark"), Decision{
			Rule: "companies", Tenant: "acme", TTL: dur(5 * time.Minute), BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=3600", CDNCacheControlHeader: "CDN-Cache-Control",
			Tags: []string{"company"}, Locales: []string{"en", "de"}}},
		{"staff cookie bypass", req("GET", "http://acme.localhost/", "Cookie", "staff_preview=1"), Decision{
			Rule: "profile", Tenant: "acme", Bypass: true, BypassReason: "cookie:staff_preview", Locales: []string{"en", "de"}}},
		{"staff header bypass", req("GET", "http://acme.localhost/products/1", "X-Staff-Preview", "1"), Decision{
			Rule: "product", Tenant: "acme", Bypass: true, BypassReason: "header:X-Staff-Preview"}},
		{"private beats bypass", req("GET", "http://acme.localhost/", "Cookie", "staff_preview=1; session=x"), Decision{
			Rule: "profile", Tenant: "acme", Private: true, PrivateReason: "cookie:session", Locales: []string{"en", "de"}}},
		{"POST edit private", req("POST", "http://acme.localhost/edit"), Decision{
			Rule: "edit", Tenant: "acme", Private: true, PrivateReason: "route:edit"}},
		{"POST elsewhere falls to default", req("POST", "http://acme.localhost/companies"), Decision{
			Rule: "default", Tenant: "acme"}},
		{"bare domain is unresolved", req("GET", "http://localhost/companies"), Decision{
			Rule: "companies", Tenant: UnresolvedTenant, Bypass: true, BypassReason: BypassUnresolvedTenant, Locales: []string{"en", "de"}}},
		{"unresolved and authorized is private", req("GET", "http://localhost/companies", "Authorization", "x"), Decision{
			Rule: "companies", Tenant: UnresolvedTenant, Private: true, PrivateReason: "authorization", Locales: []string{"en", "de"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Decide(tt.r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		r    *http.Request
		want Decision
	}{
		{req("GET", "http://Shop.Example.COM:8443/x"), Decision{Rule: "default", Tenant: "shop.example.com"}},
		{req("GET", "http://shop.example.com./x"), Decision{Rule: "default", Tenant: "shop.example.com"}},
		{req("POST", "http://a.example/x"), Decision{Rule: "default", Tenant: "a.example"}},
		{req("GET", "http://a.example/", "Authorization", ""), Decision{Rule: "default", Tenant: "a.example", Private: true, PrivateReason: "authorization"}},
		{req("GET", "http://a.example/", "Cookie", "session=1"), Decision{Rule: "default", Tenant: "a.example", Private: true, PrivateReason: "cookie:session"}},
		{req("GET", "http://a.example/", "Cookie", "x=1", "Cookie", " sessionid = 2"), Decision{Rule: "default", Tenant: "a.example", Private: true, PrivateReason: "cookie:sessionid"}},
		{req("GET", "http://a.example/", "Cookie", "mysession=1; session_x=2"), Decision{Rule: "default", Tenant: "a.example"}},
		{req("GET", "http://[::1]:8080/"), Decision{Rule: "default", Tenant: UnresolvedTenant, Bypass: true, BypassReason: BypassUnresolvedTenant}},
		{req("GET", "http://"+strings.Repeat("a", 200)+".com/"), Decision{Rule: "default", Tenant: UnresolvedTenant, Bypass: true, BypassReason: BypassUnresolvedTenant}},
	}
	for _, tt := range tests {
		if got := p.Decide(tt.r); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Decide(%s %s %v) = %+v, want %+v", tt.r.Method, tt.r.Host, tt.r.Header, got, tt.want)
		}
	}
}

func TestTenantResolution(t *testing.T) {
	tests := []struct {
		name     string
		cfg      TenantConfig
		r        *http.Request
		tenant   string
		rulePath string // path the rules saw, via the "p:{path}" tag
	}{
		{"host", TenantConfig{}, req("GET", "http://acme.example.com/x"), "acme.example.com", "/x"},
		{"host map", TenantConfig{Hosts: map[string]string{"shop.acme.com": "acme"}}, req("GET", "http://shop.acme.com/x"), "acme", "/x"},
		{"host map wildcard", TenantConfig{Hosts: map[string]string{"*.acme.com": "acme", "*.eu.acme.com": "acme-eu"}},
			req("GET", "http://www.eu.acme.com/x"), "acme-eu", "/x"},
		{"host map miss", TenantConfig{Hosts: map[string]string{"shop.acme.com": "acme"}}, req("GET", "http://berg.example/x"), "berg.example", "/x"},
		{"subdomain", TenantConfig{By: TenantBySubdomain, Domains: []string{"example.com"}}, req("GET", "http://www.acme.example.com/x"), "acme", "/x"},
		{"subdomain other domain", TenantConfig{By: TenantBySubdomain, Domains: []string{"example.com"}}, req("GET", "http://acme.other/x"), UnresolvedTenant, "/x"},
		{"subdomain other domain with fallback", TenantConfig{By: TenantBySubdomain, Domains: []string{"example.com"}, Fallback: "main"}, req("GET", "http://acme.other/x"), "main", "/x"},
		{"subdomain map wins", TenantConfig{By: TenantBySubdomain, Domains: []string{"example.com"}, Hosts: map[string]string{"acme-shop.de": "acme"}},
			req("GET", "http://acme-shop.de/x"), "acme", "/x"},
		{"header", TenantConfig{By: TenantByHeader, Header: "x-tenant"}, req("GET", "http://h/x", "X-Tenant", " Acme "), "acme", "/x"},
		{"header missing", TenantConfig{By: TenantByHeader, Header: "X-Tenant", Fallback: "public"}, req("GET", "http://h/x"), "public", "/x"},
		{"header invalid", TenantConfig{By: TenantByHeader, Header: "X-Tenant"}, req("GET", "http://h/x", "X-Tenant", "a/b"), UnresolvedTenant, "/x"},
		{"path prefix", TenantConfig{By: TenantByPathPrefix}, req("GET", "http://h/acme/companies/1"), "acme", "/companies/1"},
		{"path prefix root", TenantConfig{By: TenantByPathPrefix}, req("GET", "http://h/acme"), "acme", "/"},
		{"path prefix none", TenantConfig{By: TenantByPathPrefix}, req("GET", "http://h/"), UnresolvedTenant, "/"},
		{"path prefix custom domain", TenantConfig{By: TenantByPathPrefix, Hosts: map[string]string{"acme-shop.de": "acme"}},
			req("GET", "http://acme-shop.de/companies/1"), "acme", "/companies/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(Config{Tenants: tt.cfg, Default: RuleConfig{Tags: []string{"p:{path}"}}})
			if err != nil {
				t.Fatal(err)
			}
			d := p.Decide(tt.r)
			if d.Tenant != tt.tenant {
				t.Errorf("tenant = %q, want %q", d.Tenant, tt.tenant)
			}
			if d.Bypass != (tt.tenant == UnresolvedTenant) {
				t.Errorf("bypass = %v for tenant %q", d.Bypass, d.Tenant)
			}
			if d.Bypass {
				return
			}
			if want := []string{"p:" + tt.rulePath}; !reflect.DeepEqual(d.Tags, want) {
				t.Errorf("rule path tags = %v, want %v", d.Tags, want)
			}
		})
	}
}

func TestDecideManyTags(t *testing.T) {
	var tpls, want []string
	for i := 0; i < 40; i++ {
		tpls = append(tpls, fmt.Sprintf("t%d:{id}", i))
		want = append(want, fmt.Sprintf("t%d:7", i))
	}
	tpls = append(tpls, "long:{path}")
	p, err := Compile(Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/p/{id}/**"}, Tags: tpls}}})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Decide(req("GET", "http://a/p/7/"+strings.Repeat("x", 1100)))
	if !reflect.DeepEqual(d.Tags, want) {
		t.Errorf("tags = %v, want %v (the over-long tag dropped)", d.Tags, want)
	}
}

func TestMatchDimensions(t *testing.T) {
	p, err := Compile(Config{
		SessionCookies: []string{},
		Rules: []RuleConfig{
			{Name: "host", Match: MatchConfig{Hosts: []string{"*.img.example"}}},
			{Name: "tenant", Match: MatchConfig{Tenants: []string{"berg"}}},
			{Name: "cookie+header", Match: MatchConfig{Cookies: []string{"ab"}, Headers: []string{"x-variant"}}},
			{Name: "cookie", Match: MatchConfig{Cookies: []string{"ab"}}},
			{Name: "header", Match: MatchConfig{Headers: []string{"X-Variant"}}},
			{Name: "delete", Match: MatchConfig{Methods: []string{"DELETE"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		r    *http.Request
		rule string
	}{
		{req("GET", "http://a.img.example/"), "host"},
		{req("GET", "http://img.example/"), "default"},
		{req("GET", "http://berg/"), "tenant"},
		{req("GET", "http://x/", "Cookie", "ab=1", "X-Variant", "b"), "cookie+header"},
		{req("GET", "http://x/", "Cookie", "ab=1"), "cookie"},
		{req("GET", "http://x/", "X-Variant", "b"), "header"},
		{req("DELETE", "http://x/"), "delete"},
		{req("GET", "http://x/", "Cookie", "session=1"), "default"},
	}
	for _, tt := range tests {
		d := p.Decide(tt.r)
		if d.Rule != tt.rule {
			t.Errorf("%s %s %v: rule %q, want %q", tt.r.Method, tt.r.Host, tt.r.Header, d.Rule, tt.rule)
		}
		if d.Private {
			t.Errorf("%v: private with no session cookies configured", tt.r.Header)
		}
	}
}

func TestCheckPolicyProblems(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		rule  int
		field string
		want  string
	}{
		{"bad path", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/a/{id"}}}}, 0, "match.path", "whole segment"},
		{"private with ttl", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/a"}, Private: true, TTL: dur(time.Second)}}}, 0, "ttl", "conflicts with private"},
		{"private with cdn", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/a"}, Private: true, CDN: "max-age=1"}}}, 0, "cdn", "conflicts with private"},
		{"private with tags", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/a"}, Private: true, Tags: []string{"x"}}}}, 0, "tags", "conflicts with private"},
		{"private with origin override", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/a"}, Private: true, Origin: OriginOverride}}}, 0, "origin", "conflicts with private"},
		{"override without ttl", Config{Default: RuleConfig{Origin: OriginOverride}}, ProblemDefaultRule, "origin", "needs a ttl"},
		{"unknown origin mode", Config{Default: RuleConfig{Origin: "ignore"}}, ProblemDefaultRule, "origin", `must be "respect" or "override"`},
		{"browser bad", Config{Rules: []RuleConfig{{Browser: "max-age=x"}}}, 0, "browser", "number of seconds"},
		{"no-store with max-age", Config{Default: RuleConfig{Browser: "no-store, max-age=5"}}, ProblemDefaultRule, "browser", "conflicts"},
		{"browser private cdn public", Config{Default: RuleConfig{Browser: "private", CDN: "max-age=5"}}, ProblemDefaultRule, "cdn", "browser says private"},
		{"cdn_header alone", Config{Default: RuleConfig{CDNHeader: "Surrogate-Control"}}, ProblemDefaultRule, "cdn_header", "without cdn"},
		{"cdn_header cache-control", Config{Default: RuleConfig{CDN: "max-age=1", CDNHeader: "cache-control"}}, ProblemDefaultRule, "cdn_header", "browser setting"},
		{"negative ttl", Config{Default: RuleConfig{TTL: dur(-time.Second)}}, ProblemDefaultRule, "ttl", "negative"},
		{"unknown placeholder", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/p/{id}"}, Tags: []string{"p:{sku}"}}}}, 0, "tags", "unknown placeholder {sku}"},
		{"reserved tag", Config{Default: RuleConfig{Tags: []string{"~01"}}}, ProblemDefaultRule, "tags", "reserved"},
		{"bad locale", Config{Default: RuleConfig{Locales: []string{"en", "e"}}}, ProblemDefaultRule, "locales", "invalid locale"},
		{"dup locale", Config{Default: RuleConfig{Locales: []string{"en", "EN"}}}, ProblemDefaultRule, "locales", "twice"},
		{"lower method", Config{Rules: []RuleConfig{{Match: MatchConfig{Methods: []string{"get"}}}}}, 0, "match.methods", "upper case"},
		{"unknown method", Config{Rules: []RuleConfig{{Match: MatchConfig{Methods: []string{"FETCH"}}}}}, 0, "match.methods", "unknown method"},
		{"bad host", Config{Rules: []RuleConfig{{Match: MatchConfig{Hosts: []string{"Acme.com:80"}}}}}, 0, "match.host", "invalid host"},
		{"bad tenant", Config{Rules: []RuleConfig{{Match: MatchConfig{Tenants: []string{"Acme"}}}}}, 0, "match.tenant", "tenant"},
		{"default with match", Config{Default: RuleConfig{Match: MatchConfig{Path: "/"}}}, ProblemDefaultRule, "match", "no match"},
		{"duplicate names", Config{Rules: []RuleConfig{{Name: "a", Match: MatchConfig{Path: "/a"}}, {Name: "a", Match: MatchConfig{Path: "/b"}}}}, 1, "name", "already used"},
		{"after catch-all", Config{Rules: []RuleConfig{{Name: "all"}, {Name: "x", Match: MatchConfig{Path: "/x"}}}}, 1, "match", "unreachable"},
		{"shadowed prefix", Config{Rules: []RuleConfig{{Match: MatchConfig{Path: "/products"}}, {Match: MatchConfig{Path: "/products/{id}", Methods: []string{"GET"}}}}}, 1, "match", "unreachable"},
		{"tenant mode", Config{Tenants: TenantConfig{By: "cookie"}}, ProblemPolicy, "tenants.by", "unknown tenant mode"},
		{"header mode needs header", Config{Tenants: TenantConfig{By: "header"}}, ProblemPolicy, "tenants.header", "needs a valid header"},
		{"host map tenant", Config{Tenants: TenantConfig{Hosts: map[string]string{"a.com": "A"}}}, ProblemPolicy, "tenants.hosts", "tenant"},
		{"fallback tenant", Config{Tenants: TenantConfig{Fallback: "x y"}}, ProblemPolicy, "tenants.fallback", "tenant"},
		{"session cookie", Config{SessionCookies: []string{"a b"}}, ProblemPolicy, "session_cookies", "invalid cookie"},
		{"bypass cookie", Config{Default: RuleConfig{StaffBypass: StaffBypass{Cookie: "a;b"}}}, ProblemDefaultRule, "staff_bypass.cookie", "invalid cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := Check(tt.cfg)
			found := false
			for _, p := range ps {
				found = found || p.Rule == tt.rule && p.Field == tt.field && strings.Contains(p.Msg, tt.want)
			}
			if !found {
				t.Errorf("problems %v, want rule %d field %q containing %q", ps, tt.rule, tt.field, tt.want)
			}
			if _, err := Compile(tt.cfg); err == nil {
				t.Errorf("Compile accepted a policy with problems")
			}
		})
	}
}

func TestCheckPolicyNotShadowed(t *testing.T) {
	cfg := Config{Rules: []RuleConfig{
		{Name: "get-products", Match: MatchConfig{Path: "/products", Methods: []string{"GET"}}},
		{Name: "products", Match: MatchConfig{Path: "/products"}},
		{Name: "with-cookie", Match: MatchConfig{Path: "/x", Cookies: []string{"a"}}},
		{Name: "x", Match: MatchConfig{Path: "/x"}},
		{Name: "one", Match: MatchConfig{Path: "/p/{id}"}},
		{Name: "deeper", Match: MatchConfig{Path: "/p/{id}/**"}},
		{Name: "host", Match: MatchConfig{Hosts: []string{"a.example"}}},
		{Name: "wild", Match: MatchConfig{Hosts: []string{"*.example"}}},
	}}
	if ps := Check(cfg); len(ps) != 0 {
		t.Errorf("problems in a policy without shadowed rules: %v", ps)
	}
}

func TestOriginOverrideDecision(t *testing.T) {
	p, err := Compile(Config{Rules: []RuleConfig{
		{Name: "rails", Match: MatchConfig{Path: "/r"}, TTL: dur(time.Hour), Origin: OriginOverride},
		{Name: "plain", Match: MatchConfig{Path: "/p"}, TTL: dur(time.Hour), Origin: OriginRespect},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"/r": true, "/p": false, "/other": false} {
		if d := p.Decide(req("GET", "http://acme.localhost"+path)); d.OverrideOrigin != want {
			t.Errorf("%s: OverrideOrigin %v, want %v", path, d.OverrideOrigin, want)
		}
	}
	// What makes a request private is never overridden.
	r := req("GET", "http://acme.localhost/r")
	r.Header.Set("Cookie", "sessionid=1")
	if d := p.Decide(r); !d.Private {
		t.Errorf("a session cookie on an override route: %+v", d)
	}
}

func TestPolicyWarnings(t *testing.T) {
	tests := []struct {
		name string
		rc   RuleConfig
		want string // "" none
	}{
		{"respect", RuleConfig{TTL: dur(time.Hour)}, ""},
		{"override", RuleConfig{TTL: dur(time.Hour), Origin: OriginOverride}, ""},
		{"no ttl", RuleConfig{}, ""},
		{"zero", RuleConfig{TTL: dur(0), Origin: OriginOverride}, "stores nothing"},
		{"over max", RuleConfig{TTL: dur(48 * time.Hour), Origin: OriginOverride}, "longer than the gateway keeps"},
		{"post only", RuleConfig{TTL: dur(time.Hour), Origin: OriginOverride, Match: MatchConfig{Methods: []string{"POST"}}}, "no GET or HEAD"},
	}
	for _, tt := range tests {
		ws := Warnings(Config{Rules: []RuleConfig{tt.rc}}, 24*time.Hour)
		if tt.want == "" {
			if len(ws) != 0 {
				t.Errorf("%s: %v", tt.name, ws)
			}
			continue
		}
		if len(ws) == 0 || ws[0].Field != "ttl" || !strings.Contains(ws[0].Msg, tt.want) {
			t.Errorf("%s: %v, want one saying %q", tt.name, ws, tt.want)
		}
	}
}
