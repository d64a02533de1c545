package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
)

// TestFailedPurgesListedAndRetried: the failed purges are listed with the
// backlog, a retry takes one off the list, and a retry of an id with no
// failure, or a listing of another status, is refused clearly.
func TestFailedPurgesListedAndRetried(t *testing.T) {
	e := newEnv(t, nil)
	now := time.Now().UTC()
	e.cdn.list = []purge.Failure{
		{ID: "p1", Provider: "cloudflare", Request: invalidation.Request{ID: "p1", Tenant: "acme", Tags: []string{"a"}}, Reason: "HTTP 400: code 1012", Time: now},
		{ID: "big~2", Purge: "big", Provider: "fastly", Request: invalidation.Request{ID: "big~2", Tenant: "berg", Tags: []string{"b"}}, Reason: "HTTP 403", Time: now},
	}
	e.cdn.backlog = purge.Backlog{Queued: 3, OldestSeconds: 42, Providers: map[string]purge.ProviderBacklog{
		"cloudflare": {Pending: 3, OldestSeconds: 42, Failing: true, FailingSince: now, LastError: "HTTP 503"},
	}}
	code, _, b := e.do(t, "GET", "/api/v1/purges?status=failed", "", bearer(testToken))
	list := decode[FailedPurgesResponse](t, b)
	if code != http.StatusOK || len(list.Purges) != 2 || list.Purges[0].ID != "p1" || list.Backlog == nil ||
		list.Backlog.Failed != 2 || list.Backlog.Providers["cloudflare"].LastError != "HTTP 503" {
		t.Fatalf("GET /api/v1/purges?status=failed: %d %s", code, b)
	}
	for _, tt := range []struct {
		method, path string
		code         int
		say          string
	}{
		{"GET", "/api/v1/purges?status=queued", 400, "only status=failed"},
		{"GET", "/api/v1/purges?limit=0", 400, "limit"},
		{"POST", "/api/v1/purges/nope/retry", 404, "no failed purge"},
		{"POST", "/api/v1/purges/bad%20id/retry", 400, "only letters"},
	} {
		if code, _, b := e.do(t, tt.method, tt.path, "", bearer(testToken)); code != tt.code || !strings.Contains(string(b), tt.say) {
			t.Errorf("%s %s: %d %s, want %d saying %q", tt.method, tt.path, code, b, tt.code, tt.say)
		}
	}
	// A purge sent in parts is retried by its own id.
	if code, _, b := e.do(t, "POST", "/api/v1/purges/big/retry", "", bearer(testToken)); code != http.StatusAccepted || !strings.Contains(string(b), `"retried":true`) {
		t.Fatalf("retry big: %d %s", code, b)
	}
	code, _, b = e.do(t, "GET", "/api/v1/purges", "", bearer(testToken))
	if list = decode[FailedPurgesResponse](t, b); code != http.StatusOK || len(list.Purges) != 1 || list.Purges[0].ID != "p1" {
		t.Fatalf("after the retry: %d %s", code, b)
	}
	if code, _, b := e.do(t, "POST", "/api/v1/purges/p1/dismiss", "", bearer(testToken)); code != http.StatusAccepted || !strings.Contains(string(b), `"dismissed":true`) {
		t.Fatalf("dismiss p1: %d %s", code, b)
	}
	if code, _, b := e.do(t, "POST", "/api/v1/purges/p1/dismiss", "", bearer(testToken)); code != http.StatusNotFound {
		t.Fatalf("dismiss p1 again: %d %s, want 404", code, b)
	}
}

// TestReadyzShowsTheCDN: a failing CDN leaves /readyz 200 (the gateway
// still serves) with the purges detail degraded, and without the
// providers' error messages, which /readyz shows to anyone.
func TestReadyzShowsTheCDN(t *testing.T) {
	e := newEnv(t, nil)
	code, _, b := e.do(t, "GET", "/readyz", "")
	if code != http.StatusOK || !strings.Contains(string(b), `"purges":{"status":"ok"`) {
		t.Fatalf("readyz with a healthy CDN: %d %s", code, b)
	}
	e.cdn.backlog = purge.Backlog{Queued: 5, OldestSeconds: 90, Providers: map[string]purge.ProviderBacklog{
		"cloudflare": {Pending: 5, OldestSeconds: 90, Failing: true, FailingSince: time.Now(), LastError: "cloudflare: zone z: HTTP 503"},
	}}
	code, _, b = e.do(t, "GET", "/readyz", "")
	type body struct {
		Status string      `json:"status"`
		Purges PurgeHealth `json:"purges"`
	}
	r := decode[body](t, b)
	if code != http.StatusOK || r.Status != "ready" || r.Purges.Status != "degraded" || !strings.Contains(r.Purges.Detail, "cloudflare") ||
		r.Purges.Queued != 5 || r.Purges.OldestSeconds != 90 || !r.Purges.Providers["cloudflare"].Failing {
		t.Fatalf("readyz with a failing CDN: %d %s", code, b)
	}
	if strings.Contains(string(b), "HTTP 503") {
		t.Errorf("readyz shows a provider's error to anyone: %s", b)
	}
}

type fixedEventBacklog EventBacklogSample

func (b fixedEventBacklog) EventBacklog() EventBacklogSample { return EventBacklogSample(b) }

// /readyz shows the invalidations not applied yet: degraded while one is
// old or L2 has not recorded one, and ready all the same.
func TestReadyzShowsTheEventBacklog(t *testing.T) {
	for _, tc := range []struct {
		sample EventBacklogSample
		status string
	}{
		{EventBacklogSample{}, "ok"},
		{EventBacklogSample{Events: 3, OldestSeconds: 0.2}, "ok"},
		{EventBacklogSample{Events: 40, OldestSeconds: 95}, "degraded"},
		{EventBacklogSample{Events: 1, OldestSeconds: 2, L2Pending: 1}, "degraded"},
	} {
		e := newEnv(t, func(c *Config) { c.EventBacklog = fixedEventBacklog(tc.sample) })
		code, _, b := e.do(t, "GET", "/readyz", "")
		r := decode[struct {
			Status string      `json:"status"`
			Events EventHealth `json:"events"`
		}](t, b)
		if code != http.StatusOK || r.Status != "ready" || r.Events.Status != tc.status || r.Events.EventBacklogSample != tc.sample {
			t.Errorf("%+v: %d %s, want events %s", tc.sample, code, b, tc.status)
		}
	}
}
