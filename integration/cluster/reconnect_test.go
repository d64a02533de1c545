package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// ready reports whether n's admin API says it is ready (connected to
// NATS).
func ready(n *nodetest.Node) bool {
	resp, err := client.Get(n.AdminURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// awayCluster is three nodes, node 2 reaching NATS through a proxy, with
// acme's profile warm in every node's L1.
func awayCluster(t *testing.T) (*cluster, *proxy, map[int]page) {
	var px *proxy
	nats := func(c *cluster) func(int) string {
		return func(i int) string {
			if i == 2 {
				px = startProxy(t, c.nats.URL)
				return px.URL()
			}
			return c.nats.URL
		}
	}
	c := startClusterWith(t, clusterOptions{}, nats)
	before := make(map[int]page)
	for i, n := range c.nodes {
		before[i] = warm(t, n, "acme", "/")
	}
	return c, px, before
}

// TestNodeCutOffFromNATSDropsItsL1: node 2 loses its NATS connection
// while an edit's event is applied on the others; while away it serves no
// stale copy, and once it is back, its first answers are not the copy its
// L1 held before (it dropped L1 before serving from it again).
func TestNodeCutOffFromNATSDropsItsL1(t *testing.T) {
	c, px, before := awayCluster(t)
	away := c.nodes[2]

	px.cut()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if ready(away) {
			return fmt.Errorf("node 2 still reports ready")
		}
		return nil
	})
	// Node 2 cannot make an event durable: it says so, and promises
	// nothing (503 with Retry-After, not the 504 "durable").
	for _, path := range []string{"/api/v1/events", "/api/v1/events?wait=1"} {
		code, h, body := postEventRaw(t, away, path, `{"id":"while-away","tenant":"acme","tags":["company:acme"]}`)
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || body["accepted"] != false ||
			!strings.Contains(fmt.Sprint(body["error"]), "not accepted") {
			t.Fatalf("POST %s on a node cut off from NATS: %d %v %v", path, code, h, body)
		}
	}
	start := time.Now()
	if _, err := c.nodes[0].Publisher().PublishAndWait(context.Background(), companyUpdated("acme")); err != nil {
		t.Fatalf("PublishAndWait with node 2 away: %v", err)
	}
	t.Logf("PublishAndWait with node 2 away returned after %v", time.Since(start).Round(time.Millisecond))
	if p := mustGet(t, away.URL, "acme", "/"); p.rendered <= before[2].rendered {
		t.Errorf("node 2, away: served rendered %d (%q), the copy from before the event", p.rendered, p.cacheStatus)
	}

	px.restore()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if !ready(away) {
			return fmt.Errorf("node 2 not reconnected")
		}
		return nil
	})
	for i := range 3 {
		p := mustGet(t, away.URL, "acme", "/")
		if p.rendered <= before[2].rendered {
			t.Errorf("node 2, back, request %d: served rendered %d (%q), the copy from before the event", i, p.rendered, p.cacheStatus)
		}
	}
	// And it takes part in invalidations again.
	now := warm(t, away, "acme", "/")
	if _, err := c.nodes[1].Publisher().PublishAndWait(context.Background(), companyUpdated("acme")); err != nil {
		t.Fatal(err)
	}
	if p := mustGet(t, away.URL, "acme", "/"); p.layer() == "l1" || p.rendered <= now.rendered {
		t.Errorf("node 2 after a second event: %q rendered %d, want a fresh copy", p.cacheStatus, p.rendered)
	}
}

// TestNodeSilentlyPartitionedStopsServingL1: node 2's connection to NATS
// goes silent (no FIN: every byte dropped), so its client does not notice
// for a while. The coordinators stop waiting for its acks once its
// heartbeat expires and report the event applied; from then on node 2
// must not serve the L1 copy it held, since it can no longer know whether
// it missed an invalidation.
func TestNodeSilentlyPartitionedStopsServingL1(t *testing.T) {
	c, px, before := awayCluster(t)
	away := c.nodes[2]
	t.Cleanup(func() { px.restore() }) // let node 2 reconnect so it can stop

	px.blackhole()
	start := time.Now()
	if _, err := c.nodes[0].Publisher().PublishAndWait(context.Background(), companyUpdated("acme")); err != nil {
		t.Fatalf("PublishAndWait with node 2 partitioned: %v", err)
	}
	t.Logf("PublishAndWait with node 2 partitioned returned after %v", time.Since(start).Round(time.Millisecond))
	if p := mustGet(t, away.URL, "acme", "/"); p.rendered <= before[2].rendered {
		t.Errorf("node 2, partitioned: served %q rendered %d, the copy from before an event whose wait returned", p.cacheStatus, p.rendered)
	}
}

// postEventRaw posts body to n's admin path and returns the status, the
// headers and the decoded JSON body.
func postEventRaw(t testing.TB, n *nodetest.Node, path, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.AdminURL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: status %d, body: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, out
}
