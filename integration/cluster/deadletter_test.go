package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// deadLetters reads GET /api/v1/deadletters on n.
func deadLetters(t testing.TB, n *nodetest.Node) []struct {
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
	Body    string `json:"body"`
} {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.AdminURL+"/api/v1/deadletters", nil)
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		DeadLetters []struct {
			Subject string `json:"subject"`
			Reason  string `json:"reason"`
			Body    string `json:"body"`
		} `json:"dead_letters"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/deadletters: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.DeadLetters
}

// TestMalformedEventsAreDeadLettered: events published raw on an event
// subject, bypassing the publisher's validation, that the coordinator
// cannot use end up in the dead-letter list of the admin API with the
// reason, and do not hold up the valid event published after them.
func TestMalformedEventsAreDeadLettered(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	const subject = events.SubjectPrefix + "acme.company"
	oversize := `{"tenant":"acme","entity":"company","key":"acme","data":{"blob":"` + strings.Repeat("x", events.MaxEventSize) + `"}}`
	cases := []struct {
		name, body, reason string
	}{
		{"bad JSON", `{"id":"dl-bad-json","tenant":"acme","entity":`, "JSON"},
		{"not an object", `["acme"]`, "JSON object"},
		{"missing tenant", `{"entity":"company","key":"acme","id":"dl-missing-tenant"}`, "tenant"},
		{"nothing to invalidate", `{"tenant":"acme","id":"dl-nothing"}`, "entity and key, or non-empty tags"},
		{"bad tag", `{"tenant":"acme","tags":["a b"],"id":"dl-bad-tag"}`, "tags[0]"},
		{"oversize", oversize, "exceeds"},
	}
	js := c.jetStream()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, tc := range cases {
		m := nats.NewMsg(subject)
		m.Data = []byte(tc.body)
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dl-%d-%d", time.Now().UnixNano(), i))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("%s: publish: %v", tc.name, err)
		}
	}
	// The valid event behind them is applied.
	if _, err := c.nodes[0].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil {
		t.Fatalf("valid event after the malformed ones: %v", err)
	}

	testenv.WaitFor(t, 10*time.Second, func() error {
		dls := deadLetters(t, c.nodes[1])
		for _, tc := range cases {
			prefix := tc.body[:min(len(tc.body), 64)]
			found := false
			for _, d := range dls {
				if !strings.HasPrefix(d.Body, prefix) {
					continue
				}
				found = true
				if d.Subject != subject || !strings.Contains(d.Reason, tc.reason) {
					t.Errorf("%s: dead letter on %q with reason %q, want %q and a reason naming %q", tc.name, d.Subject, d.Reason, subject, tc.reason)
				}
				t.Logf("%s: %s", tc.name, d.Reason)
			}
			if !found {
				return fmt.Errorf("%s: not in the %d dead letters", tc.name, len(dls))
			}
		}
		return nil
	})
}
