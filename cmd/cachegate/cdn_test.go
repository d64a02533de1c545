package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/cachegate/cachegate/web"
)

// startServeWithCloudflare runs serve with Cloudflare pointed at a local
// fake and fast retries.
func startServeWithCloudflare(t *testing.T) (*servedNode, *cloudflarefake.Server) {
	t.Helper()
	serveEnv(t)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "cdn-test-admin-token")
	org, _ := testOrigin(t)
	const cfToken = "cf-test-token-never-printed"
	fake := cloudflarefake.New(cfToken)
	t.Cleanup(fake.Close)
	cfg := filepath.Join(t.TempDir(), "cachegate.yaml")
	body := nodetest.CloudflareYAML(fake.URL(), cfToken)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, "--origin", org.URL, "--config", cfg), fake
}

// TestPurgeWaitReportsTheCDN: purge --wait follows the CDN's outcome and
// exits 1 saying "failed" or "still retrying"; failed purges are listed
// and retried through the API and the purges command; /readyz stays 200
// and says the CDN is degraded; a purge of 10,000 tags reaches the CDN.
func TestPurgeWaitReportsTheCDN(t *testing.T) {
	s, fake := startServeWithCloudflare(t)
	admin := "http://" + s.admin
	op := func(args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, append(args, "--admin", admin, "--token", "cdn-test-admin-token")...)
	}

	// The CDN calls the request invalid: failed, at once, and said so.
	fake.Down(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	code, stdout, stderr := op("purge", "--tenant", "acme", "--tag", "company:acme", "--timeout", "20s")
	if code != 1 || !strings.Contains(stderr, "failed at cloudflare") || !strings.Contains(stderr, "HTTP 400") {
		t.Fatalf("purge --wait with a CDN refusing it: exit %d, stdout %s, stderr %s; want 1 saying failed", code, stdout, stderr)
	}
	var st web.PurgeStateResponse
	if err := json.Unmarshal([]byte(stdout), &st); err != nil || !st.Failed || st.Targets["cloudflare"].Status != "failed" || st.Targets["l1"].Status != "applied" {
		t.Fatalf("purge --wait printed %s (%v), want the per-target outcome with cloudflare failed", stdout, err)
	}
	if strings.Contains(stdout, `"applied":true`) {
		t.Errorf("purge --wait printed applied: true while the CDN failed: %s", stdout)
	}
	id := st.ID

	code, stdout, stderr = op("purges", "--output", "table")
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "HTTP 400") || !strings.Contains(stdout, "failed: 1") {
		t.Fatalf("purges --output table: exit %d: %s%s", code, stdout, stderr)
	}
	var list web.FailedPurgesResponse
	code, stdout, _ = op("purges", "list", "--output", "json")
	if err := json.Unmarshal([]byte(stdout), &list); code != 0 || err != nil || len(list.Purges) != 1 || list.Purges[0].ID != id || list.Purges[0].Provider != "cloudflare" {
		t.Fatalf("purges list: exit %d %s (%v)", code, stdout, err)
	}
	ready := readyz(t, s.admin)
	if ready.Status != "ready" || ready.Purges.Status != "degraded" || ready.Purges.Failed != 1 {
		t.Errorf("/readyz with a failed purge: %+v, want ready and degraded", ready)
	}

	// The cause fixed, a retry through the API delivers it.
	fake.Up()
	if code, stdout, stderr = op("purges", "retry", id); code != 0 {
		t.Fatalf("purges retry: exit %d: %s%s", code, stdout, stderr)
	}
	awaitPurge(t, op, id, "confirmed")
	if code, _, stderr = op("purges", "retry", id); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("a second retry: exit %d, %s; want 1 and 404", code, stderr)
	}

	// An outage: still retrying when the wait ends, and said so.
	fake.Down(cloudflarefake.Fault{Status: 503, Code: 10000, Message: "Service unavailable"})
	code, stdout, stderr = op("purge", "--tenant", "acme", "--tag", "gallery:acme", "--timeout", "1s", "--output", "table")
	if code != 1 || !strings.Contains(stderr, "still retrying") || !strings.Contains(stdout, "cloudflare") {
		t.Fatalf("purge --wait during an outage: exit %d, stdout %s, stderr %s; want 1 saying still retrying", code, stdout, stderr)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		r := readyz(t, s.admin)
		if r.Purges.Status != "degraded" || !r.Purges.Providers["cloudflare"].Failing || r.Purges.Queued == 0 {
			return fmt.Errorf("/readyz during the outage: %+v", r)
		}
		return nil
	})
	fake.Up()
	code, stdout, stderr = op("purge", "--tenant", "acme", "--tag", "company", "--timeout", "20s")
	if code != 0 || !strings.Contains(stdout, `"cloudflare":{"status":"confirmed"`) {
		t.Fatalf("purge --wait after the outage: exit %d: %s%s", code, stdout, stderr)
	}

	// 10,000 tags: accepted, and every one of them reaches the CDN.
	tags := make([]string, 10000)
	for i := range tags {
		tags[i] = fmt.Sprintf("item:%d", i)
	}
	big, _ := json.Marshal(map[string]any{"id": "big-purge", "tenant": "acme", "tags": tags})
	r := send(t, http.MethodPost, s.admin, "", "/api/v1/purge?wait=1", strings.NewReader(string(big)), "Authorization: Bearer cdn-test-admin-token")
	if r.status != http.StatusOK {
		t.Fatalf("POST a purge of 10,000 tags: %d %s", r.status, r.body)
	}
	awaitPurge(t, op, "big-purge", "confirmed")
	got := map[string]bool{}
	for _, items := range fake.Confirmed() {
		for _, tag := range items {
			got[tag] = true
		}
	}
	for _, tag := range tags {
		if !got["acme:"+tag] {
			t.Fatalf("tag %s of the 10,000 never reached the CDN", tag)
		}
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if r := readyz(t, s.admin); r.Purges.Status != "ok" || r.Purges.Queued != 0 {
			return fmt.Errorf("/readyz once everything was delivered: %+v", r)
		}
		return nil
	})

	// A purge that will never apply can be dismissed, and /readyz is ok
	// again.
	fake.Down(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	if code, stdout, _ = op("purge", "--tenant", "acme", "--tag", "never", "--timeout", "20s"); code != 1 {
		t.Fatalf("purge --wait refused by the CDN: exit %d: %s", code, stdout)
	}
	st = web.PurgeStateResponse{}
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr = op("purges", "dismiss", st.ID, "--output", "table"); code != 0 || !strings.Contains(stdout, "dismissed") {
		t.Fatalf("purges dismiss: exit %d: %s%s", code, stdout, stderr)
	}
	if r := readyz(t, s.admin); r.Purges.Status != "ok" || r.Purges.Failed != 0 {
		t.Errorf("/readyz after the dismissal: %+v", r)
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), "cf-test-token-never-printed") {
		t.Error("serve printed the Cloudflare token")
	}
}

// awaitPurge waits until purges show reports status at cloudflare.
func awaitPurge(t *testing.T, op func(...string) (int, string, string), id, status string) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, func() error {
		code, stdout, stderr := op("purges", "show", id)
		var st web.PurgeStateResponse
		if code != 0 || json.Unmarshal([]byte(stdout), &st) != nil {
			return fmt.Errorf("purges show %s: exit %d: %s%s", id, code, stdout, stderr)
		}
		if got := st.Targets["cloudflare"].Status; string(got) != status {
			return fmt.Errorf("purge %s at cloudflare is %q (%s), want %q", id, got, st.Targets["cloudflare"].Detail, status)
		}
		return nil
	})
}

type readyzBody struct {
	Status string          `json:"status"`
	Purges web.PurgeHealth `json:"purges"`
}

func readyz(t *testing.T, admin string) readyzBody {
	t.Helper()
	r := get(t, admin, "", "/readyz")
	var b readyzBody
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &b) != nil {
		t.Fatalf("GET /readyz: %d %s, want 200", r.status, r.body)
	}
	return b
}
