package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/web"
)

// A "ttl: auto" route on a running node: a change event published through
// the admin API reaches the route's entry through NATS and the
// coordinator, the route learns that events announce its changes, GET
// /api/v1/routes/ttl says so with its bounds, and the refill is stored for
// the route's maximum.
func TestAutoTTLLearnsFromEvents(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Surrogate-Key", "gallery")
		io.WriteString(w, "gallery")
	}))
	t.Cleanup(origin.Close)
	f, err := config.Parse("auto.yaml", []byte(`
tenants: { by: subdomain, domains: [test] }
routes:
  - name: gallery
    match: { path: /gallery }
    ttl: auto
    auto_ttl: { min: 30s, max: 1h, fraction: 0.5 }
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, nodetest.Options{Origin: origin.URL, File: f})
	get := func() string { return cacheStatus(t, n.URL+"/gallery", "acme.test") }
	if cs := get(); !strings.Contains(cs, "stored") || !strings.Contains(cs, "ttl=30") {
		t.Fatalf("first request: %q, want stored at the minimum, 30s", cs)
	}
	auth := []string{"Authorization", "Bearer " + nodetest.Token}
	if code, _, b := adminDo(t, "POST", n.AdminURL+"/api/v1/events?wait=1", `{"tenant":"acme","tags":["gallery"]}`, auth...); code != 200 {
		t.Fatalf("event: %d %s", code, b)
	}
	var got web.RouteTTL
	testenv.WaitFor(t, 15*time.Second, func() error {
		code, _, b := adminDo(t, "GET", n.AdminURL+"/api/v1/routes/ttl", "", auth...)
		var r web.RouteTTLsResponse
		if err := json.Unmarshal(b, &r); err != nil || code != 200 || len(r.Routes) != 1 {
			return fmt.Errorf("%d %s", code, b)
		}
		if got = r.Routes[0]; got.EventChanges != 1 || !got.Covered {
			return fmt.Errorf("%+v, want the event's change", got)
		}
		return nil
	})
	if got.Route != "gallery" || got.TTLSeconds != 3600 || got.MinSeconds != 30 || got.MaxSeconds != 3600 || got.Fraction != 0.5 ||
		!strings.Contains(got.Reason, "events keep it fresh") {
		t.Fatalf("route %+v, want gallery covered at its maximum, 1h", got)
	}
	if cs := get(); !strings.Contains(cs, "stored") || !strings.Contains(cs, "ttl=3600") {
		t.Fatalf("after the event: %q, want stored for the maximum, 3600s", cs)
	}
}
