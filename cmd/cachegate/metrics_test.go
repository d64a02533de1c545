package main

import (
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// scrapeNames fetches a Prometheus text exposition from url without
// credentials and returns the metric family names it declares.
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(b), -1) {
		names[m[1]] = true
	}
	return names
}

// startedMetricsNode runs serve with its metrics on their own listener and
// returns that listener's address, before any request was served.
func startedMetricsNode(t *testing.T) (*servedNode, string) {
	t.Helper()
	serveEnv(t)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "metrics-test-admin-token")
	org, _ := observedOrigin(t)
	s := startServe(t, "--origin", org.URL, "--metrics-listen", "127.0.0.1:0")
	return s, s.line(t, `(?m)^metrics listening on (\S+)$`)
}

// TestMetricsFromStart: /metrics is served unauthenticated on its own
// listener, and every series an operator graphs or alerts on exists right
// after start, before any request or event.
func TestMetricsFromStart(t *testing.T) {
	s, metrics := startedMetricsNode(t)
	names := scrapeNames(t, "http://"+metrics+"/metrics")
	var missing []string
	for _, n := range []string{
		"cachegate_build_info",
		"cachegate_request_duration_seconds", "cachegate_responses_total", "cachegate_requests_total",
		"cachegate_origin_request_duration_seconds",
		"cachegate_l1_entries", "cachegate_l1_bytes", "cachegate_l1_evictions_total",
		"cachegate_l2_configured", "cachegate_l2_breaker_open", "cachegate_l2_errors_total",
		"cachegate_nats_connected", "cachegate_nats_reconnects_total",
		"cachegate_events_backlog_oldest_seconds", "cachegate_events_l2_pending",
	} {
		if !names[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		all := make([]string, 0, len(names))
		for n := range names {
			all = append(all, n)
		}
		sort.Strings(all)
		t.Errorf("missing right after start: %v\nserved: %s", missing, strings.Join(all, " "))
	}
	// The admin listener's /metrics still needs the token.
	resp, err := client.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin /metrics without a token: %d, want 401", resp.StatusCode)
	}
	// Only /metrics is on the metrics listener.
	resp, err = client.Get("http://" + metrics + "/api/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics listener /api/v1/stats: %d, want 404", resp.StatusCode)
	}
}
