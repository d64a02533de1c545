package gateway

import (
	"net/http"
	"testing"

	"github.com/cachegate/cachegate/policy"
)

// responseDecision never lets a rule announce as shareable what the
// gateway would not store itself.
func TestResponseDecision(t *testing.T) {
	rule := policy.Decision{Rule: "profile", Tenant: "acme", BrowserCacheControl: "public, max-age=60", CDNCacheControl: "max-age=86400", Tags: []string{"t"}}
	tests := []struct {
		name       string
		kind       kind
		d          policy.Decision
		status     int
		header     http.Header
		wantRule   bool // the rule's directives apply
		wantPriv   string
		wantPublic bool // tags go to the CDN
	}{
		{"public", kindCacheable, rule, 200, http.Header{"Cache-Control": {"max-age=5"}}, true, "", true},
		{"404 is cacheable", kindCacheable, rule, 404, nil, true, "", true},
		{"set-cookie", kindCacheable, rule, 200, http.Header{"Set-Cookie": {"a=1"}}, true, "response:set-cookie", false},
		{"origin private passes unchanged", kindCacheable, rule, 200, http.Header{"Cache-Control": {"private, max-age=5"}}, false, "", false},
		{"vary star", kindCacheable, rule, 200, http.Header{"Cache-Control": {"max-age=5"}, "Vary": {"Accept, *"}}, false, "", false},
		{"no-store, must-understand on a known status", kindCacheable, rule, 200, http.Header{"Cache-Control": {"no-store, must-understand"}}, true, "", true},
		{"origin no-store", kindCacheable, rule, 200, http.Header{"Cache-Control": {"no-store"}}, false, "", false},
		{"server error", kindCacheable, rule, 503, http.Header{"Cache-Control": {"max-age=5"}}, false, "", false},
		{"redirect 302", kindCacheable, rule, 302, nil, false, "", false},
		{"post", kindMethod, rule, 200, nil, false, "", false},
		{"private stays private", kindBypass, policy.Decision{Tenant: "acme", Private: true, PrivateReason: "authorization"}, 200, nil, false, "authorization", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &exchange{kind: tt.kind, d: tt.d}
			d, public := responseDecision(x, tt.status, tt.header)
			if public != tt.wantPublic || d.PrivateReason != tt.wantPriv || d.Private != (tt.wantPriv != "") {
				t.Fatalf("got public=%v private=%v %q", public, d.Private, d.PrivateReason)
			}
			if got := d.BrowserCacheControl != ""; got != tt.wantRule {
				t.Fatalf("rule directives applied: %v, want %v", got, tt.wantRule)
			}
			if d.Tenant != "acme" {
				t.Fatalf("tenant %q", d.Tenant)
			}
		})
	}
}
