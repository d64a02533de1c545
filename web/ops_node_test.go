package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/testenv"
)

// num is a JSON number as the schema validator's decoder gives it.
func num(v any) float64 {
	n, _ := v.(json.Number)
	f, _ := n.Float64()
	return f
}

// awaitDeadLetter publishes body raw on subject and returns the seq of
// the dead letter it becomes.
func awaitDeadLetter(t *testing.T, c *apiChecker, js jetstream.JetStream, subject, body string) int {
	t.Helper()
	before := map[float64]bool{}
	_, m := c.call("GET", "/api/v1/deadletters", "/api/v1/deadletters", "", true)
	dls, _ := m["dead_letters"].([]any)
	for _, d := range dls {
		before[num(d.(map[string]any)["seq"])] = true
	}
	if _, err := js.Publish(context.Background(), subject, []byte(body)); err != nil {
		t.Fatal(err)
	}
	var seq float64
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, m := c.call("GET", "/api/v1/deadletters", "/api/v1/deadletters", "", true)
		dls, _ := m["dead_letters"].([]any)
		for _, d := range dls {
			if s := num(d.(map[string]any)["seq"]); !before[s] {
				seq = s
				return nil
			}
		}
		return fmt.Errorf("no new dead letter yet")
	})
	return int(seq)
}

// editAndDiscard: a dead letter edited is published as a corrected event
// and leaves the list; one discarded leaves it without being published;
// an unknown one is 404, a corrected event that is still wrong is 400 and
// keeps the dead letter.
func editAndDiscard(t *testing.T, c *apiChecker, js jetstream.JetStream) {
	t.Helper()
	listed := func(seq int) bool {
		_, m := c.call("GET", "/api/v1/deadletters", "/api/v1/deadletters", "", true)
		dls, _ := m["dead_letters"].([]any)
		return slices.ContainsFunc(dls, func(d any) bool { return int(num(d.(map[string]any)["seq"])) == seq })
	}
	seq := awaitDeadLetter(t, c, js, "cachegate.events.acme.company", `{"tenant":"acme"`)
	edit := fmt.Sprintf("/api/v1/deadletters/%d/edit", seq)
	if code, _ := c.call("POST", "/api/v1/deadletters/{seq}/edit", edit, `{"tenant":"acme"}`, true); code != 400 || !listed(seq) {
		t.Errorf("edit into an event that is still invalid: %d, listed %v; want 400 and kept", code, listed(seq))
	}
	code, m := c.call("POST", "/api/v1/deadletters/{seq}/edit", edit, `{"tenant":"acme","entity":"company","key":"acme"}`, true)
	if code != 202 || m["id"] == "" || listed(seq) {
		t.Errorf("edit: %d %v, listed %v; want 202 with the new id, and gone", code, m, listed(seq))
	}
	if code, _ := c.call("POST", "/api/v1/deadletters/{seq}/edit", edit, `{"tenant":"acme","entity":"company","key":"acme"}`, true); code != 404 {
		t.Errorf("edit of a dead letter already edited: %d, want 404", code)
	}
	seq = awaitDeadLetter(t, c, js, "cachegate.events.acme.company", `not json`)
	discard := fmt.Sprintf("/api/v1/deadletters/%d/discard", seq)
	if code, _ := c.call("POST", "/api/v1/deadletters/{seq}/discard", discard, "", true); code != 200 || listed(seq) {
		t.Errorf("discard: %d, listed %v", code, listed(seq))
	}
	if code, _ := c.call("POST", "/api/v1/deadletters/{seq}/discard", discard, "", true); code != 404 {
		t.Errorf("second discard: %d, want 404", code)
	}
}

// tenantTokens: a token created for acme publishes acme's events and
// nothing else; it is refused on every other endpoint and for another
// tenant's event with 403, and once revoked with 401.
func tenantTokens(t *testing.T, c *apiChecker) {
	t.Helper()
	code, created := c.call("POST", "/api/v1/tokens", "/api/v1/tokens", `{"tenant":"acme","name":"shop"}`, true)
	token, _ := created["token"].(string)
	id, _ := created["id"].(string)
	if code != 201 || token == "" || id == "" {
		t.Fatalf("create token: %d %v", code, created)
	}
	if code, _ := c.call("POST", "/api/v1/tokens", "/api/v1/tokens", `{"tenant":"Not A Tenant"}`, true); code != 400 {
		t.Errorf("token for a bad tenant: %d, want 400", code)
	}
	if code, _ := c.callAs(token, "POST", "/api/v1/events", "/api/v1/events?wait=1", `{"tenant":"acme","tags":["x"]}`); code != 200 {
		t.Errorf("tenant token, own tenant's event: %d, want 200", code)
	}
	if code, m := c.callAs(token, "POST", "/api/v1/events", "/api/v1/events", `{"tenant":"berg","tags":["x"]}`); code != 403 {
		t.Errorf("tenant token, another tenant's event: %d %v, want 403", code, m)
	}
	for _, op := range []struct{ method, template, path, body string }{
		{"POST", "/api/v1/purge", "/api/v1/purge", `{"tenant":"acme","tags":["x"]}`},
		{"GET", "/api/v1/stats", "/api/v1/stats", ""},
		{"GET", "/api/v1/tokens", "/api/v1/tokens", ""},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", `{"tenant":"acme"}`},
		{"GET", "/api/v1/audit", "/api/v1/audit", ""},
	} {
		if code, m := c.callAs(token, op.method, op.template, op.path, op.body); code != 403 || m["error"] == nil {
			t.Errorf("tenant token on %s %s: %d %v, want 403 with an error", op.method, op.path, code, m)
		}
	}
	_, list := c.call("GET", "/api/v1/tokens", "/api/v1/tokens", "", true)
	toks, _ := list["tokens"].([]any)
	if len(toks) != 1 || toks[0].(map[string]any)["id"] != id || toks[0].(map[string]any)["token"] != nil || toks[0].(map[string]any)["hash"] != nil {
		t.Errorf("token list: %v, want the one token without secret or hash", list)
	}
	if code, _ := c.call("POST", "/api/v1/tokens/{id}/revoke", "/api/v1/tokens/"+id+"/revoke", "", true); code != 200 {
		t.Errorf("revoke: %d", code)
	}
	if code, _ := c.call("POST", "/api/v1/tokens/{id}/revoke", "/api/v1/tokens/"+id+"/revoke", "", true); code != 404 {
		t.Errorf("second revoke: %d, want 404", code)
	}
	if code, _ := c.callAs(token, "POST", "/api/v1/events", "/api/v1/events", `{"tenant":"acme","tags":["x"]}`); code != 401 {
		t.Errorf("revoked token: %d, want 401", code)
	}
}

// inspectAndKeys: a cached URL is seen in L1 with its tags and freshness,
// found by its tag, and the version is served.
func inspectAndKeys(t *testing.T, c *apiChecker, gateway string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, gateway+"/inspected", nil)
	req.Host = "acme.test"
	for range 2 {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	q := "/api/v1/inspect?url=" + url.QueryEscape("http://acme.test/inspected")
	if code, _ := c.call("GET", "/api/v1/inspect", "/api/v1/inspect", "", true); code != 400 {
		t.Errorf("inspect without url: %d", code)
	}
	code, m := c.call("GET", "/api/v1/inspect", q, "", true)
	layers, _ := m["layers"].([]any)
	if code != 200 || m["tenant"] != "acme.test" || len(layers) == 0 {
		t.Fatalf("inspect: %d %v", code, m)
	}
	l1 := layers[0].(map[string]any)
	if l1["present"] != true || l1["state"] != "fresh" || num(l1["ttl_seconds"]) <= 0 {
		t.Errorf("inspect: L1 %v, want present and fresh", l1)
	}
	tags, _ := l1["tags"].([]any)
	if len(tags) == 0 {
		t.Fatalf("inspect: no tags in %v", l1)
	}
	tag, key := tags[0].(string), m["key"]
	code, m = c.call("GET", "/api/v1/keys", "/api/v1/keys?tenant=acme.test&limit=5&tag="+url.QueryEscape(tag), "", true)
	keys, _ := m["keys"].([]any)
	if code != 200 || !slices.Contains(keys, key) {
		t.Errorf("keys of tag %q: %d %v", tag, code, m)
	}
	if code, _ := c.call("GET", "/api/v1/keys", "/api/v1/keys?tenant=acme.test", "", true); code != 400 {
		t.Errorf("keys without a tag: %d", code)
	}
	if code, m := c.call("GET", "/api/v1/version", "/api/v1/version", "", true); code != 200 || m["go"] == "" {
		t.Errorf("version: %d %v", code, m)
	}
}
