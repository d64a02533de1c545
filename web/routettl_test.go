package web

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

type fakeRouteTTLs []RouteTTL

func (f fakeRouteTTLs) RouteTTLs() []RouteTTL { return f }

// profileTTL is an auto route as the gateway reports it, for the API and
// the dashboard.
var profileTTL = RouteTTL{
	Route: "profile", TTLSeconds: 60, MinSeconds: 30, MaxSeconds: 86400, Fraction: 0.25,
	Revalidations: 3, Changes: 2, EventChanges: 1, ObservedSeconds: 720, ChangeIntervalSeconds: 240, ReadEverySeconds: 12,
	Reason: "changes about every 4m (3 in 12m of observed life: 2 found by revalidation, 1 by invalidation event); TTL 1m = 25% of that",
}

// GET /api/v1/routes/ttl lists each auto route with its bounds, evidence
// and reason, as openapi.json describes it, and an empty list (never null)
// without a source; it needs the token.
func TestRouteTTLs(t *testing.T) {
	schema := NewOpenAPISchemas(t, openAPIDocument).Response(t, "GET", "/api/v1/routes/ttl", 200)
	for _, c := range []struct {
		name string
		src  RouteTTLSource
		want []RouteTTL
	}{
		{"none", nil, nil},
		{"learned", fakeRouteTTLs{profileTTL}, []RouteTTL{profileTTL}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) { cfg.RouteTTLs = c.src })
			code, _, b := e.do(t, "GET", "/api/v1/routes/ttl", "", bearer(testToken))
			if code != 200 {
				t.Fatalf("%d %s", code, b)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(v); err != nil {
				t.Fatalf("body %s does not match openapi.json: %v", b, err)
			}
			r := decode[RouteTTLsResponse](t, b)
			if r.Routes == nil || len(r.Routes) != len(c.want) || len(c.want) == 1 && r.Routes[0] != c.want[0] {
				t.Fatalf("body %s, want %+v", b, c.want)
			}
			if code, _, _ := e.do(t, "GET", "/api/v1/routes/ttl", ""); code != 401 {
				t.Fatalf("without the token: %d, want 401", code)
			}
		})
	}
}
