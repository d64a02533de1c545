package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/testenv"
)

// observedOrigin answers every path with a cacheable page and echoes the
// request id it was sent, as many apps do, recording the ids.
func observedOrigin(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var ids []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("X-Request-Id"))
		mu.Unlock()
		w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "a page of the origin\n")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), ids...) }
}

// TestLogsAndRequestIDs: serve with JSON logs and the access log on keeps
// a valid client request id, replaces an invalid one, sends it to the
// origin and returns it (not the one stored with the entry); every log
// line is a JSON object without a repeated key; the access log names the
// request id, tenant, route, cache outcome, status, bytes and origin time.
func TestLogsAndRequestIDs(t *testing.T) {
	serveEnv(t)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "observe-test-admin-token")
	org, originIDs := observedOrigin(t)
	cfg := filepath.Join(t.TempDir(), "cachegate.yaml")
	body := "routes:\n  - name: pages\n    match: { path: /pages }\n    ttl: 1m\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--origin", org.URL, "--config", cfg, "--log-level", "debug",
		"--log-format", "json", "--access-log")

	first := get(t, s.gateway, "acme.test", "/pages/1", "X-Request-Id: client-id-1")
	if first.status != 200 || first.header.Get("X-Request-Id") != "client-id-1" {
		t.Fatalf("first request: %v, X-Request-Id %q, want the client's", first, first.header.Get("X-Request-Id"))
	}
	hit := get(t, s.gateway, "acme.test", "/pages/1")
	generated := hit.header.Get("X-Request-Id")
	if !hit.isHit() || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(generated) {
		t.Fatalf("hit: %v, X-Request-Id %q, want a generated id (not the stored one)", hit, generated)
	}
	long := strings.Repeat("x", 200)
	bad := get(t, s.gateway, "acme.test", "/other", "X-Request-Id: "+long)
	badID := bad.header.Get("X-Request-Id")
	if badID == long || len(badID) != 32 {
		t.Fatalf("a 200-character request id was kept or not replaced: %q", badID)
	}
	if got := originIDs(); len(got) != 2 || got[0] != "client-id-1" || got[1] != badID {
		t.Fatalf("the origin saw request ids %q, want [client-id-1 %s]", got, badID)
	}
	// An event, so that the coordinator's and instance's lines are in the
	// run's log.
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.admin+"/api/v1/events?wait=1",
		strings.NewReader(`{"tenant":"acme","tags":["x"]}`))
	req.Header.Set("Authorization", "Bearer observe-test-admin-token")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish with wait: %d", resp.StatusCode)
	}
	// A malformed event straight on NATS: dead-lettered and logged with
	// what is known of it.
	seed := s.line(t, `(?m)^  NATS clients authenticate with the nkey seed in (\S+)$`)
	opt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.nats, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "cachegate.events.acme.company", []byte(`{"tenant":`), jetstream.WithMsgID("bad-1")); err != nil {
		t.Fatal(err)
	}
	s.stderr.await(t, regexp.MustCompile(`"msg":"event dead-lettered".*"msg_id":"bad-1"`), s.done, startTimeout)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	var access []map[string]any
	for _, fields := range testenv.JSONLogLines(t, s.stderr.String()) {
		if fields["component"] == "access" {
			access = append(access, fields)
		}
	}
	if len(access) != 3 {
		t.Fatalf("%d access log lines, want 3:\n%s", len(access), s.stderr)
	}
	want := []struct {
		id, route, cache string
		origin           bool
	}{
		{"client-id-1", "pages", "miss", true},
		{generated, "pages", "hit_l1", false},
		{badID, "default", "miss", true},
	}
	for i, w := range want {
		a := access[i]
		if a["request_id"] != w.id || a["route"] != w.route || a["cache"] != w.cache || a["tenant"] != "acme.test" ||
			a["status"] != 200.0 || a["bytes"] != float64(len("a page of the origin\n")) ||
			(a["origin_ms"].(float64) > 0) != w.origin || a["duration_ms"].(float64) <= 0 {
			t.Errorf("access line %d = %v, want id %s, route %s, cache %s, origin time %v", i+1, a, w.id, w.route, w.cache, w.origin)
		}
	}
}

// TestLogFormatRefused: a log format other than text or json is refused,
// naming it.
func TestLogFormatRefused(t *testing.T) {
	serveEnv(t)
	code, _, stderr := runCmd(t, "serve", "--origin", "http://127.0.0.1:1", "--log-format", "yaml")
	if code != 1 || !strings.Contains(stderr, `log.format "yaml"`) {
		t.Errorf("serve --log-format yaml: exit %d, stderr:\n%s\nwant 1 naming the format", code, stderr)
	}
}
