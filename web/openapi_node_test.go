package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/cachegate/cachegate/web"
)

// apiChecker calls a real node's admin API and checks every JSON answer
// against the schema openapi.json gives for its operation and status.
type apiChecker struct {
	t       *testing.T
	admin   string
	schemas *web.OpenAPISchemas
	covered map[string]bool // "METHOD /template"
}

// call sends method path (the template names the operation, e.g.
// "/api/v1/purges/{id}"), validates the answer and returns its status and
// decoded body.
func (c *apiChecker) call(method, template, path, body string, auth bool) (int, map[string]any) {
	c.t.Helper()
	token := ""
	if auth {
		token = nodetest.Token
	}
	return c.callAs(token, method, template, path, body)
}

// callAs is call with token as the bearer token ("" for none).
func (c *apiChecker) callAs(token, method, template, path, body string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.admin+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.covered[method+" "+template] = true
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatalf("%s %s: %d, not JSON: %v: %s", method, path, resp.StatusCode, err, b)
	}
	if err := c.schemas.Response(c.t, method, template, resp.StatusCode).Validate(v); err != nil {
		c.t.Errorf("%s %s: the %d answer does not match openapi.json: %v\n%s", method, path, resp.StatusCode, err, b)
	}
	m, _ := v.(map[string]any)
	return resp.StatusCode, m
}

// TestOpenAPIAgainstANode: every JSON operation of openapi.json, called on
// a real node (embedded NATS, a CDN fake that refuses purges for a while),
// answers what the document's schema for that status says, for successes
// and errors alike; a status the document does not list fails the test.
// The node's log lines of all that are JSON objects without a repeated key.
func TestOpenAPIAgainstANode(t *testing.T) {
	fake := cloudflarefake.New("cf-openapi-test-token")
	t.Cleanup(fake.Close)
	f := nodetest.CloudflareFile(t, fake.URL(), "cf-openapi-test-token")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page")
	}))
	t.Cleanup(origin.Close)
	logs := &testenv.SyncBuffer{}
	n := nodetest.Start(t, nodetest.Options{Origin: origin.URL, File: f,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := &apiChecker{t: t, admin: n.AdminURL, schemas: web.NewOpenAPISchemas(t, web.OpenAPIDocument), covered: map[string]bool{}}

	// Traffic, so that stats have a tenant and a route.
	req, _ := http.NewRequest(http.MethodGet, n.URL+"/", nil)
	req.Host = "acme.test"
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	c.call("GET", "/healthz", "/healthz", "", false)
	c.call("GET", "/readyz", "/readyz", "", false)
	if code, _ := c.call("GET", "/api/v1/stats", "/api/v1/stats", "", false); code != http.StatusUnauthorized {
		t.Errorf("stats without a token: %d", code)
	}
	c.call("GET", "/api/v1/stats", "/api/v1/stats", "", true)
	c.call("GET", "/api/v1/history", "/api/v1/history", "", true)
	if code, m := c.call("GET", "/api/v1/health/prefix", "/api/v1/health/prefix?prefix=/&min_requests=1&min_hit_ratio=0.9", "", true); code != 503 || fmt.Sprint(m["requests"]) != "1" {
		t.Errorf("prefix health after one miss: %d %v, want 503 with 1 request", code, m)
	}
	c.call("GET", "/api/v1/health/prefix", "/api/v1/health/prefix?prefix=/a/b", "", true)
	// The CDN's hit ratio, from the fake's GraphQL Analytics API.
	fake.SetAnalytics(nodetest.CloudflareZone, cloudflarefake.ZoneTotals{Requests: 40, CachedRequests: 30})
	if _, m := c.call("GET", "/api/v1/cdn/stats", "/api/v1/cdn/stats", "", true); fmt.Sprint(m["configured"]) != "true" ||
		!strings.Contains(fmt.Sprint(m["providers"]), "hit_ratio:0.75") {
		t.Errorf("CDN stats: %v", m)
	}
	c.call("GET", "/api/v1/routes/ttl", "/api/v1/routes/ttl", "", true)
	c.call("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", "", true)

	if code, _ := c.call("POST", "/api/v1/events", "/api/v1/events?wait=1", `{"tenant":"acme","tags":["x"]}`, true); code != 200 {
		t.Errorf("event with wait: %d", code)
	}
	c.call("POST", "/api/v1/events", "/api/v1/events", `{"tenant":"acme","entity":"company","key":"acme"}`, true)
	if code, _ := c.call("POST", "/api/v1/events", "/api/v1/events", `{"entity":"company"}`, true); code != 400 {
		t.Errorf("event without a tenant: %d", code)
	}
	if code, _ := c.call("POST", "/api/v1/purge", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["company:acme"]}`, true); code != 200 {
		t.Errorf("purge with wait: %d", code)
	}
	c.call("POST", "/api/v1/purge", "/api/v1/purge", `{"tenant":"acme","urls":["http://acme.test/"]}`, true)
	c.call("POST", "/api/v1/purge", "/api/v1/purge", `{"tenant":"acme","colour":"red"}`, true)
	c.call("GET", "/api/v1/purges/{id}", "/api/v1/purges/no-such-purge", "", true)
	code, accepted := c.call("POST", "/api/v1/warm", "/api/v1/warm", `{"tenant":"acme.test","urls":["http://acme.test/"]}`, true)
	if code != http.StatusAccepted {
		t.Fatalf("warm: %d %v", code, accepted)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if _, m := c.call("GET", "/api/v1/warm/{id}", "/api/v1/warm/"+accepted["id"].(string), "", true); m["finished"] != true {
			return fmt.Errorf("warm job: %v", m)
		}
		return nil
	})
	if code, _ := c.call("POST", "/api/v1/warm", "/api/v1/warm", `{"tenant":"acme.test","urls":["http://berg.test/"]}`, true); code != http.StatusBadRequest {
		t.Errorf("warm of another tenant's URL: %d, want 400", code)
	}
	c.call("GET", "/api/v1/warm/{id}", "/api/v1/warm/no-such-job", "", true)

	// The CDN refuses purges for good: listed, retried, dismissed.
	fake.Down(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	c.call("POST", "/api/v1/purge", "/api/v1/purge", `{"id":"p-fail","tenant":"acme","tags":["t1"]}`, true)
	awaitFailed := func() {
		testenv.WaitFor(t, 20*time.Second, func() error {
			if _, m := c.call("GET", "/api/v1/purges/{id}", "/api/v1/purges/p-fail", "", true); m["failed"] != true {
				return fmt.Errorf("p-fail: %v", m)
			}
			return nil
		})
	}
	awaitFailed()
	_, list := c.call("GET", "/api/v1/purges", "/api/v1/purges?status=failed", "", true)
	if ps, _ := list["purges"].([]any); len(ps) == 0 {
		t.Fatalf("no failed purge listed: %v", list)
	}
	c.call("POST", "/api/v1/purges/{id}/retry", "/api/v1/purges/p-fail/retry", "", true)
	awaitFailed()
	c.call("POST", "/api/v1/purges/{id}/dismiss", "/api/v1/purges/p-fail/dismiss", "", true)
	c.call("POST", "/api/v1/purges/{id}/dismiss", "/api/v1/purges/p-fail/dismiss", "", true)
	fake.Up()

	// A malformed event straight on NATS: a dead letter, listed and retried.
	opt, err := nats.NkeyOptionFromSeed(n.NATSSeedFile())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(n.NATSURL(), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(context.Background(), "cachegate.events.acme.company", []byte(`{"tenant":`)); err != nil {
		t.Fatal(err)
	}
	var seq float64
	testenv.WaitFor(t, 10*time.Second, func() error {
		_, m := c.call("GET", "/api/v1/deadletters", "/api/v1/deadletters", "", true)
		dls, _ := m["dead_letters"].([]any)
		if len(dls) == 0 {
			return fmt.Errorf("no dead letter yet")
		}
		seq, _ = dls[0].(map[string]any)["seq"].(float64)
		return nil
	})
	c.call("POST", "/api/v1/deadletters/{seq}/retry", fmt.Sprintf("/api/v1/deadletters/%d/retry", int(seq)), "", true)
	c.call("POST", "/api/v1/deadletters/{seq}/retry", "/api/v1/deadletters/0/retry", "", true)
	editAndDiscard(t, c, js)
	tenantTokens(t, c)
	inspectAndKeys(t, c, n.URL)
	c.call("GET", "/api/v1/audit", "/api/v1/audit?limit=50", "", true)
	c.call("GET", "/api/v1/audit", "/api/v1/audit?limit=zero", "", true)

	// Every log line of the run (refused requests, CDN failures, a dead
	// letter) is one JSON object with no key twice.
	if lines := testenv.JSONLogLines(t, logs.String()); len(lines) < 5 {
		t.Errorf("only %d log lines: %s", len(lines), logs)
	}

	// Every operation that answers JSON was called.
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	_ = json.Unmarshal(web.OpenAPIDocument, &doc)
	for path, ops := range doc.Paths {
		for method := range ops {
			op := strings.ToUpper(method) + " " + path
			switch path {
			case "/metrics", "/api/v1/stream": // not JSON
				continue
			}
			if !c.covered[op] {
				t.Errorf("%s was not called", op)
			}
		}
	}
}
