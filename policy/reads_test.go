package policy

import (
	"net/http"
	"slices"
	"testing"
)

// TestRequestHeaders: every header a decision reads is named, and two
// requests that agree on the named ones get the same decision whatever
// else they carry.
func TestRequestHeaders(t *testing.T) {
	p, err := Compile(Config{
		Tenants: TenantConfig{By: TenantByHeader, Header: "x-tenant"},
		Rules: []RuleConfig{
			{Name: "beta", Match: MatchConfig{Path: "/beta", Headers: []string{"x-beta"}}, StaffBypass: StaffBypass{Header: "x-staff"}},
			{Name: "rest", Match: MatchConfig{Path: "/"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"X-Beta", "X-Staff", "X-Tenant"}
	if got := p.RequestHeaders(); !slices.Equal(got, want) {
		t.Fatalf("RequestHeaders() = %q, want %q", got, want)
	}
	req := func(h ...string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://acme/beta", nil)
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	base := p.Decide(req("X-Tenant", "acme", "X-Beta", "1"))
	if base.Rule != "beta" || base.Tenant != "acme" {
		t.Fatalf("decision %+v", base)
	}
	if d := p.Decide(req("X-Tenant", "acme", "X-Beta", "1", "User-Agent", "other", "X-Request-Id", "r2")); d.Rule != base.Rule || d.Tenant != base.Tenant || d.Bypass != base.Bypass {
		t.Fatalf("an unnamed header changed the decision: %+v", d)
	}
	for _, h := range want {
		r := req("X-Tenant", "acme", "X-Beta", "1")
		if h == "X-Staff" {
			r.Header.Set(h, "1")
		} else {
			r.Header.Del(h)
		}
		if d := p.Decide(r); d.Rule == base.Rule && d.Tenant == base.Tenant && d.Bypass == base.Bypass {
			t.Errorf("changing %s did not change the decision: the test does not show it is read", h)
		}
	}
	if got := DefaultPolicy().RequestHeaders(); len(got) != 0 {
		t.Fatalf("the default policy reads %q", got)
	}
}
