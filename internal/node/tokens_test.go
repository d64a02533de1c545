package node_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// call sends body to one admin listener with token and returns the status
// and the decoded answer.
func call(t *testing.T, admin, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// A tenant token created on one instance publishes through another, and a
// revocation on the second holds on the first at once: the tokens live in
// the NATS both share, not in either process.
func TestTenantTokenOnEveryInstance(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(origin.Close)
	nats := testenv.StartNATS(t)
	a := nodetest.Start(t, nodetest.Options{Origin: origin.URL, NATSURL: nats.URL})
	b := nodetest.Start(t, nodetest.Options{Origin: origin.URL, NATSURL: nats.URL})

	code, created := call(t, a.AdminURL, "POST", "/api/v1/tokens", nodetest.Token, `{"tenant":"acme"}`)
	token, _ := created["token"].(string)
	id, _ := created["id"].(string)
	if code != http.StatusCreated || token == "" {
		t.Fatalf("create on a: %d %v", code, created)
	}
	event := `{"tenant":"acme","tags":["company:acme"]}`
	for name, n := range map[string]*nodetest.Node{"a": a, "b": b} {
		if code, m := call(t, n.AdminURL, "POST", "/api/v1/events?wait=1", token, event); code != http.StatusOK || m["applied"] != true {
			t.Errorf("publish through %s: %d %v", name, code, m)
		}
		if code, _ := call(t, n.AdminURL, "GET", "/api/v1/stats", token, ""); code != http.StatusForbidden {
			t.Errorf("stats through %s with the tenant token: %d, want 403", name, code)
		}
	}
	if code, _ := call(t, b.AdminURL, "POST", "/api/v1/tokens/"+id+"/revoke", nodetest.Token, ""); code != http.StatusOK {
		t.Fatalf("revoke on b: %d", code)
	}
	if code, _ := call(t, a.AdminURL, "POST", "/api/v1/events", token, event); code != http.StatusUnauthorized {
		t.Errorf("the revoked token on a: %d, want 401", code)
	}
	// Both changes are on record in the cluster's audit log.
	_, log := call(t, a.AdminURL, "GET", "/api/v1/audit?limit=50", nodetest.Token, "")
	seen := map[string]bool{}
	entries, _ := log["entries"].([]any)
	for _, e := range entries {
		if m, _ := e.(map[string]any); m["id"] == id && m["tenant"] == "acme" {
			seen[m["action"].(string)] = true
		}
	}
	if !seen["token.created"] || !seen["token.revoked"] {
		t.Errorf("audit log entries of token %s: %v, want token.created and token.revoked", id, seen)
	}
}
