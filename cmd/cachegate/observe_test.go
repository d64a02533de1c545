package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	for i, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		fields, err := jsonObject(line)
		if err != nil {
			t.Errorf("log line %d: %v: %s", i+1, err, line)
			continue
		}
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

// jsonObject parses one JSON object, refusing a key that appears twice at
// any level (encoding/json would keep the last silently).
func jsonObject(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if err := noDuplicateKeys(dec); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// noDuplicateKeys reads one value from dec.
func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q appears twice", key)
			}
			seen[key] = true
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// TestJSONObjectFindsDuplicates: the checker above can fail.
func TestJSONObjectFindsDuplicates(t *testing.T) {
	for _, tt := range []struct {
		line string
		ok   bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1}]}`, true},
		{`{"component":"x","component":"y"}`, false},
		{`{"a":{"b":1,"b":2}}`, false},
		{`{"a":[{"b":1,"b":2}]}`, false},
		{`not json`, false},
	} {
		if _, err := jsonObject(tt.line); (err == nil) != tt.ok {
			t.Errorf("jsonObject(%s) = %v, want ok %v", tt.line, err, tt.ok)
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
