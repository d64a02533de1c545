package policy_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/tagging"
)

// The gateway's whole use of the policy: compile once at start-up, decide
// per request, rewrite per response, emit CDN tags for public responses.
func Example() {
	ttl := 24 * time.Hour
	p, err := policy.Compile(policy.Config{
		Tenants: policy.TenantConfig{By: policy.TenantBySubdomain, Domains: []string{"localhost"}},
		Rules: []policy.RuleConfig{
			{Name: "account", Match: policy.MatchConfig{Path: "/account"}, Private: true},
			{Name: "profile", Match: policy.MatchConfig{Path: "/{$}", Methods: []string{"GET"}},
				TTL: &ttl, Browser: "public, max-age=60", CDN: "max-age=86400",
				Tags: []string{"company:{tenant}"}, Locales: []string{"en", "de"},
				StaffBypass: policy.StaffBypass{Cookie: "staff_preview"}},
		},
	})
	if err != nil {
		panic(err)
	}
	emitter, err := tagging.NewEmitter(tagging.EmitterConfig{Provider: tagging.ProviderFastly})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest("GET", "http://acme.localhost/", nil)
	d := p.Decide(r)
	fmt.Println(d.Rule, d.Tenant, d.Private, *d.TTL)

	resp := http.Header{"Cache-Control": {"no-cache"}, "Surrogate-Key": {"gallery:acme"}}
	tags := policy.ApplyResponse(d, resp) // store tags with the entry
	if !d.Private && !d.Bypass {
		emitter.Emit(resp, d.Tenant, tags)
	}
	fmt.Println(resp.Get("Cache-Control"), "|", resp.Get("CDN-Cache-Control"), "|", resp.Get("Surrogate-Key"))

	r = httptest.NewRequest("GET", "http://acme.localhost/account", nil)
	d = p.Decide(r)
	resp = http.Header{"Cache-Control": {"public, max-age=600"}, "Surrogate-Key": {"user:7"}}
	policy.ApplyResponse(d, resp)
	fmt.Println(d.PrivateReason, "|", resp.Get("Cache-Control"), "|", resp.Get("Vary"), "|", resp.Get("Surrogate-Key"))
	// Output:
	// profile acme false 24h0m0s
	// public, max-age=60 | max-age=86400 | acme:gallery:acme acme:company:acme
	// route:account | private, no-store | Authorization, Cookie |
}
