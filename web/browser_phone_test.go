package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/cdnstats"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
)

// noSidewaysScroll is true when nothing in the page is wider than the
// viewport.
const noSidewaysScroll = `document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth`

// TestDashboardOnAPhone drives the dashboard at a phone's width (390 px)
// with long rows in every table: no sideways scroll; the charts mark the
// audit log's purges; the search box finds a tag and a URL in the
// activity; when the live stream fails, a banner says so.
func TestDashboardOnAPhone(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	e := newEnv(t, func(c *Config) {
		c.LiveInterval = 50 * time.Millisecond
		c.CDNStats = cdnstats.NewReader(time.Hour, staticCDN{Sample: cdnstats.Sample{Requests: 200, Hits: 150, HitRatio: 0.75}})
		c.RouteTTLs = fakeRouteTTLs{profileTTL, {Route: "a-route-with-a-long-name", TTLSeconds: 86400, MinSeconds: 60, MaxSeconds: 86400,
			Fraction: 0.25, EventChanges: 3, ObservedSeconds: 720, ChangeIntervalSeconds: 240, Covered: true,
			Reason: "changes about every 4m, each announced by an invalidation event (3 so far), and no revalidation found one they missed: events keep it fresh, TTL at the maximum 24h"}}
	})
	long := strings.Repeat("very-long-tenant-name-", 4)
	e.rec.Begin(long, "a-route-with-a-long-name", "/products/1").Hit(stats.L1)
	q := e.rec.Begin("acme", "profile", "/")
	q.Forwarded()
	q.Tagged([]string{"company:acme"}, false)
	e.dead.list = []DeadLetter{{Seq: 9, Time: time.Now(), Reason: "tenant is required", Body: strings.Repeat(`{"entity":"company"}`, 20)}}
	e.cdn.list = []purge.Failure{{ID: "big", Purge: "big", Provider: "cloudflare", Reason: strings.Repeat("HTTP 400: code 1012: Request is invalid ", 5),
		Request: invalidation.Request{ID: "big", Tenant: "acme", Tags: []string{"a"}}, Time: time.Now()}}
	e.audit.add(audit.Entry{Time: time.Now().Add(-time.Minute), Actor: "admin:10.0.0.1", Action: "purge", ID: "p-old", Tenant: "acme",
		Tags: []string{"company:acme", "company"}, Result: "queued"})
	e.audit.add(audit.Entry{Time: time.Now(), Actor: "event:e1", Action: "event", ID: "e1", Tenant: "acme",
		URLs: []string{"/companies/42"}, Result: "ok"})
	e.purger.states["p-old"] = map[string]purge.State{purge.TargetL1: {Status: purge.StatusApplied, Updated: time.Now()}}

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.srv.Run(runCtx) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
			<-done
		}
	})

	_, do := dashboardBrowser(t, 390, 844)
	do("log in on a phone",
		chromedp.Navigate(e.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		await(noSidewaysScroll),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		clickAndLoad("login-submit"),
		textIs("conn-text", "live"),
		await(`document.querySelector('#tenants tr[data-name^="very-long"]') !== null`),
		textHas("deadletters", "tenant is required"),
		textHas("failed-purges", "Request is invalid"),
		textHas("recent-purges", "2 tags"),
		textHas("tag-prefixes", "company:*"),
		await(`document.querySelector('#instances tr[data-name="local"]') !== null`),
		textHas("instance-count", "1 instance"),
		textIs("layer-cdn", "CDNprovider analytics75.0%150 hits of 200 · fastlythe CDN's own analytics"),
	)
	do("each auto route's TTL, bounds, evidence and reason",
		await(`!document.getElementById('ttl-card').hidden`),
		textHas("route-ttls", "profile1m 0s30s – 1d 0h · 25%every 4m 0severy 12s"+profileTTL.Reason),
		textHas("route-ttls", "a-route-with-a-long-name1d 0hevents1m 0s – 1d 0h · 25%every 4m 0smeasuring…changes about every 4m, each announced"),
	)
	do("no sideways scroll at 390 px", await(`window.innerWidth === 390`), await(noSidewaysScroll))
	do("the charts mark the purge",
		await(`document.querySelectorAll('#chart-ratio .purge-mark').length === 1`),
		await(`document.querySelectorAll('#chart-rps .purge-mark').length === 1`),
		await(`document.querySelector('#chart-ratio .purge-mark title').textContent.includes('company:acme')`),
	)
	do("search a tag prefix",
		chromedp.SendKeys(chromedp.ID("search"), "company:*"),
		textHas("search-result", "1 entry names company:*"),
		await(`document.querySelectorAll('#audit tbody tr').length === 1`),
	)
	do("search a URL",
		chromedp.SetValue(chromedp.ID("search"), "/companies/42"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('search').dispatchEvent(new Event('input'))`),
		textHas("search-result", "1 entry names /companies/42"),
		textHas("audit", "event"),
	)
	do("the stream banner is hidden while live", await(`document.getElementById('stream-error').hidden`))
	stop()
	<-done
	stopped = true
	do("a failed stream shows the banner",
		chromedp.WaitVisible(chromedp.ID("stream-error")),
		textIs("conn-text", "reconnecting…"),
		await(noSidewaysScroll),
	)
}

// staticCDN is a CDN analytics source with fixed figures.
type staticCDN struct{ cdnstats.Sample }

func (staticCDN) Name() string                                    { return "fastly" }
func (s staticCDN) Read(context.Context) (cdnstats.Sample, error) { return s.Sample, nil }
