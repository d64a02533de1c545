package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/nodetest"
)

// target is one page of one tenant.
type target struct{ tenant, path string }

func (t target) String() string { return t.tenant + t.path }

// TestEventInvalidatesEveryNodeAndNothingElse: an acme company.updated,
// published through one node's Go publisher and then through another
// node's admin API with ?wait=1, makes acme's profile and listing misses on
// every node once the call returned, while berg's pages and acme's gallery
// fragment (tagged gallery:acme only) stay hits everywhere.
func TestEventInvalidatesEveryNodeAndNothingElse(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	affected := []target{{"acme", "/"}, {"acme", "/companies"}}
	unaffected := []target{{"berg", "/"}, {"berg", "/companies"}, {"acme", "/fragments/gallery"}}
	all := append(append([]target(nil), affected...), unaffected...)

	publishers := []struct {
		name    string
		publish func(t *testing.T) string
	}{
		{"Publisher.PublishAndWait", func(t *testing.T) string {
			id, err := c.nodes[0].Publisher().PublishAndWait(context.Background(), companyUpdated("acme"))
			if err != nil {
				t.Fatalf("PublishAndWait: %v", err)
			}
			return id
		}},
		{"POST /api/v1/events?wait=1", func(t *testing.T) string {
			return postEvent(t, c.nodes[1], `{"tenant":"acme","type":"company.updated","entity":"company","key":"acme"}`)
		}},
		// The demo's editor: POST /edit through a gateway (private, so
		// forwarded), whose hook publishes with wait before answering.
		{"POST /edit through a gateway", func(t *testing.T) string {
			ids := make(chan string, 1)
			c.setOnEdit(func(ctx context.Context, tenant, desc string) error {
				ev := companyUpdated(tenant)
				ev.Data, _ = json.Marshal(map[string]string{"description": desc})
				id, err := c.nodes[0].Publisher().PublishAndWait(ctx, ev)
				ids <- id
				return err
			})
			defer c.setOnEdit(nil)
			if _, err := edit(context.Background(), c.nodes[2].URL, "acme", "Edited through the gateway."); err != nil {
				t.Fatal(err)
			}
			return <-ids
		}},
	}
	for _, p := range publishers {
		t.Run(p.name, func(t *testing.T) {
			// Every page an L1 hit on every node, and what each node has.
			before := make(map[string]page)
			for i, n := range c.nodes {
				for _, tg := range all {
					before[fmt.Sprint(i, tg)] = warm(t, n, tg.tenant, tg.path)
				}
			}
			id := p.publish(t)

			// The first request on each node after the call returned.
			// Node 0 refetches from the origin; the others may already
			// find node 0's fresh copy in the shared L2, but none may
			// serve what it had before: no L1 hit, a newer render.
			for i, n := range c.nodes {
				for _, tg := range affected {
					got := mustGet(t, n.URL, tg.tenant, tg.path)
					old := before[fmt.Sprint(i, tg)]
					switch {
					case got.layer() == "l1":
						t.Errorf("node %d %s after event %s: L1 hit %q, want its L1 copy dropped", i, tg, id, got.cacheStatus)
					case i == 0 && !got.miss():
						t.Errorf("node 0 %s after event %s: Cache-Status %q, want fwd=miss", tg, id, got.cacheStatus)
					case !got.miss() && got.layer() != "l2":
						t.Errorf("node %d %s after event %s: Cache-Status %q, want fwd=miss or an L2 hit", i, tg, id, got.cacheStatus)
					}
					if got.rendered <= old.rendered {
						t.Errorf("node %d %s after event %s: rendered %d, not newer than the %d cached before", i, tg, id, got.rendered, old.rendered)
					}
				}
				for _, tg := range unaffected {
					got := mustGet(t, n.URL, tg.tenant, tg.path)
					if got.layer() != "l1" || got.rendered != before[fmt.Sprint(i, tg)].rendered {
						t.Errorf("node %d %s after acme's event: Cache-Status %q rendered %d, want the same L1 hit (rendered %d)",
							i, tg, got.cacheStatus, got.rendered, before[fmt.Sprint(i, tg)].rendered)
					}
				}
			}
			st := purgeState(t, c.nodes[2], id)
			for _, layer := range []string{"l1", "l2"} {
				if st.Targets[layer].Status != "applied" {
					t.Errorf("event %s: state at %s = %+v, want applied", id, layer, st.Targets[layer])
				}
			}
		})
	}
}

// postEvent publishes body through n's admin API with ?wait=1 and
// returns the event id.
func postEvent(t testing.TB, n *nodetest.Node, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, n.AdminURL+"/api/v1/events?wait=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /api/v1/events: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID      string `json:"id"`
		Applied bool   `json:"applied"`
		Error   string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST /api/v1/events: status %d, body: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || !out.Applied || out.ID == "" {
		t.Fatalf("POST /api/v1/events?wait=1: status %d, %+v; want 200 applied", resp.StatusCode, out)
	}
	return out.ID
}

// purgeStateResponse is GET /api/v1/purges/<id>.
type purgeStateResponse struct {
	ID      string `json:"id"`
	Targets map[string]struct {
		Status   string `json:"status"`
		Detail   string `json:"detail"`
		Attempts int    `json:"attempts"`
	} `json:"targets"`
	Done   bool `json:"done"`
	Failed bool `json:"failed"`
}

// getPurgeState reads the state of event or purge id from n's admin API;
// a 404 is an empty state.
func getPurgeState(ctx context.Context, n *nodetest.Node, id string) (purgeStateResponse, error) {
	var out purgeStateResponse
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.AdminURL+"/api/v1/purges/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	resp, err := client.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return out, nil
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("GET /api/v1/purges/%s: status %d", id, resp.StatusCode)
	}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func purgeState(t testing.TB, n *nodetest.Node, id string) purgeStateResponse {
	t.Helper()
	st, err := getPurgeState(context.Background(), n, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
