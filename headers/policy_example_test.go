package headers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cachegate/cachegate/headers"
)

// The gateway's whole use of the policy: compile once at start-up, decide
// per request, rewrite per response, emit CDN tags for public responses.
func Example() {
	ttl := 24 * time.Hour
	policy, err := headers.CompilePolicy(headers.PolicyConfig{
		Tenants: headers.TenantConfig{By: headers.TenantBySubdomain, Domains: []string{"localhost"}},
		Rules: []headers.RuleConfig{
			{Name: "account", Match: headers.MatchConfig{Path: "/account"}, Private: true},
			{Name: "profile", Match: headers.MatchConfig{Path: "/{$}", Methods: []string{"GET"}},
				TTL: &ttl, Browser: "public, max-age=60", CDN: "max-age=86400",
				Tags: []string{"company:{tenant}"}, Locales: []string{"en", "de"},
				StaffBypass: headers.StaffBypass{Cookie: "staff_preview"}},
		},
	})
	if err != nil {
		panic(err)
	}
	emitter, err := headers.NewTagEmitter(headers.TagEmitterConfig{Provider: headers.ProviderFastly})
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest("GET", "http://acme.localhost/", nil)
	d := policy.Decide(r)
	fmt.Println(d.Rule, d.Tenant, d.Private, *d.TTL)

	resp := http.Header{"Cache-Control": {"no-cache"}, "Surrogate-Key": {"gallery:acme"}}
	tags := headers.ApplyResponse(d, resp) // store tags with the entry
	if !d.Private && !d.Bypass {
		emitter.Emit(resp, d.Tenant, tags)
	}
	fmt.Println(resp.Get("Cache-Control"), "|", resp.Get("CDN-Cache-Control"), "|", resp.Get("Surrogate-Key"))

	r = httptest.NewRequest("GET", "http://acme.localhost/account", nil)
	d = policy.Decide(r)
	resp = http.Header{"Cache-Control": {"public, max-age=600"}, "Surrogate-Key": {"user:7"}}
	headers.ApplyResponse(d, resp)
	fmt.Println(d.PrivateReason, "|", resp.Get("Cache-Control"), "|", resp.Get("Vary"), "|", resp.Get("Surrogate-Key"))
	// Output:
	// profile acme false 24h0m0s
	// public, max-age=60 | max-age=86400 | acme:gallery:acme acme:company:acme
	// route:account | private, no-store | Authorization, Cookie |
}
