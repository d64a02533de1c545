package web

import (
	"testing"
)

type fakeRouteTTLs []RouteTTL

func (f fakeRouteTTLs) RouteTTLs() []RouteTTL { return f }

// GET /api/v1/routes/ttl lists what the gateway learned, and an empty
// list (never null) without a source.
func TestRouteTTLs(t *testing.T) {
	for _, c := range []struct {
		name string
		src  RouteTTLSource
		want int
	}{
		{"none", nil, 0},
		{"learned", fakeRouteTTLs{{Route: "profile", TTLSeconds: 300, Revalidations: 3, Reason: "no change"}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) { cfg.RouteTTLs = c.src })
			code, _, b := e.do(t, "GET", "/api/v1/routes/ttl", "", bearer(testToken))
			if code != 200 {
				t.Fatalf("%d %s", code, b)
			}
			r := decode[RouteTTLsResponse](t, b)
			if r.Routes == nil || len(r.Routes) != c.want || c.want == 1 && (r.Routes[0].Route != "profile" || r.Routes[0].Reason != "no change") {
				t.Fatalf("body %s", b)
			}
			if code, _, _ := e.do(t, "GET", "/api/v1/routes/ttl", ""); code != 401 {
				t.Fatalf("without the token: %d, want 401", code)
			}
		})
	}
}
