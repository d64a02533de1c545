package node_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// An event the coordinator cannot use (its rule needs a data field the
// event lacks) is the caller's fault: a waiting ingest answers 400 with the
// reason, not 500.
func TestWaitedEventThatCannotApplyIsABadRequest(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(origin.Close)
	f, err := config.Parse("rules.yaml", []byte(`
events:
  rules:
    - type: product.updated
      tags: ["category:{data.category_id}"]
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, nodetest.Options{Origin: origin.URL, File: f})
	req, _ := http.NewRequest(http.MethodPost, n.AdminURL+"/api/v1/events?wait=1",
		strings.NewReader(`{"tenant":"acme","type":"product.updated","entity":"product","key":"p1"}`))
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "data.category_id") || !strings.Contains(string(b), "deadletters") {
		t.Fatalf("waited event whose rule lacks its data: %d %s", resp.StatusCode, b)
	}
}

// An instance that shares a Redis L2 but runs NATS of its own is isolated
// from the other instances: it says so loudly at start.
func TestEmbeddedNATSWithSharedRedisWarns(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(origin.Close)
	rds := testenv.StartRedis(t)
	logs := &testenv.SyncBuffer{}
	nodetest.Start(t, nodetest.Options{Origin: origin.URL, RedisURL: "redis://" + rds.Addr + "/0",
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if !strings.Contains(logs.String(), "EMBEDDED NATS WITH A SHARED REDIS") {
		t.Fatalf("no warning at start; logs:\n%s", logs.String())
	}
}
