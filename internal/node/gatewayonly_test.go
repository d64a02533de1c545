package node_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestGatewayOnlyNodes: two nodes with events.coordinator: false and one
// coordinating node on one NATS server. The gateway-only nodes take no
// event (the coordinating one holds every partition), yet an event
// published through one of them is applied, and both of them dropped the
// tagged page from their L1 before the wait answered; their admin API
// still lists dead letters.
func TestGatewayOnlyNodes(t *testing.T) {
	srv := testenv.StartNATS(t)
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "page")
		io.WriteString(w, "page")
	}))
	t.Cleanup(origin.Close)
	file := func(yaml string) *config.File {
		f, err := config.Parse("node.yaml", []byte("tenants: { by: subdomain, domains: [test] }\n"+yaml), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	gatewayOnly := file("events: { coordinator: false }\n")
	if !gatewayOnly.Events.NoCoordinator {
		t.Fatal("events.coordinator: false not read")
	}
	// The gateway-only nodes first: were they coordinators, they would be
	// among the coordinating node's peers from its start.
	gws := []*nodetest.Node{
		nodetest.Start(t, nodetest.Options{NATSURL: srv.URL, Origin: origin.URL, File: gatewayOnly}),
		nodetest.Start(t, nodetest.Options{NATSURL: srv.URL, Origin: origin.URL, File: gatewayOnly}),
	}
	coord := nodetest.Start(t, nodetest.Options{NATSURL: srv.URL, Origin: origin.URL, File: file("")})
	testenv.WaitFor(t, 15*time.Second, func() error {
		if got := len(coord.Coordinator().Partitions()); got != events.DefaultPartitions {
			return fmt.Errorf("the coordinating node pulls %d partitions, want all %d", got, events.DefaultPartitions)
		}
		return nil
	})
	for i, n := range gws {
		if p := n.Coordinator().Partitions(); len(p) != 0 {
			t.Fatalf("gateway-only node %d pulls partitions %v", i, p)
		}
	}

	get := func(n *nodetest.Node) string { return cacheStatus(t, n.URL+"/page", "acme.test") }
	for i, n := range gws {
		get(n)
		if cs := get(n); !strings.Contains(cs, "hit") {
			t.Fatalf("gateway-only node %d, second request: %q, want an L1 hit", i, cs)
		}
	}
	before := fetches.Load()
	auth := []string{"Authorization", "Bearer " + nodetest.Token}
	if code, _, b := adminDo(t, "POST", gws[0].AdminURL+"/api/v1/events?wait=1", `{"tenant":"acme","tags":["page"]}`, auth...); code != http.StatusOK {
		t.Fatalf("event through a gateway-only node: %d %s, want 200 applied", code, b)
	}
	for i, n := range gws {
		if cs := get(n); strings.Contains(cs, "hit") {
			t.Errorf("gateway-only node %d after the event: %q, want a miss", i, cs)
		}
	}
	if got := fetches.Load() - before; got != int64(len(gws)) {
		t.Errorf("%d origin fetches after the event, want one per gateway-only node (%d)", got, len(gws))
	}
	// The operator's calls on the events work on every node.
	if code, _, b := adminDo(t, "GET", gws[1].AdminURL+"/api/v1/deadletters", "", auth...); code != http.StatusOK {
		t.Errorf("dead letters on a gateway-only node: %d %s", code, b)
	}
}

// cacheStatus GETs url with Host host and returns its Cache-Status.
func cacheStatus(t *testing.T, url, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Cache-Status")
}
