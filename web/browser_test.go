package web

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
)

// ScreenshotEnv names the variable that makes TestDashboardInBrowser save
// the dashboard, filled with synthetic history, to docs/dashboard-synthetic.png
// (docs/dashboard.png is taken from the running demo by cmd/cachegate).
const ScreenshotEnv = "CACHEGATE_WEB_SCREENSHOT"

// await waits until the JavaScript expression is true in the page.
func await(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))
}

// clickAndLoad clicks the element with id and waits for the page that the
// click loads.
func clickAndLoad(id string) chromedp.Action[chromedp.Void] {
	wait := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID(id)))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := wait(ctx, t)
		return chromedp.Void{}, err
	}
}

func textIs(id, text string) chromedp.Action[chromedp.Void] {
	return await(fmt.Sprintf(`(document.getElementById(%q) || {}).textContent === %q`, id, text))
}

func textHas(id, text string) chromedp.Action[chromedp.Void] {
	return await(fmt.Sprintf(`((document.getElementById(%q) || {}).textContent || "").includes(%q)`, id, text))
}

// TestDashboardInBrowser drives the dashboard in headless Chromium: log in
// with the token, watch the hit ratio follow the recorder, purge a tag from
// the form and follow its state to the end, purge everything through the
// confirmation dialog.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	e := newEnv(t, func(c *Config) {
		c.LiveInterval = 50 * time.Millisecond
		c.SampleInterval = 5 * time.Second
	})
	screenshot := os.Getenv(ScreenshotEnv) != ""
	if screenshot {
		fillDemoData(t, e)
	} else {
		e.dead.list = []DeadLetter{{Seq: 9, Time: time.Now(), Reason: "tenant is required", Body: `{"entity":"company"}`}}
		e.cdn.list = []purge.Failure{{ID: "big~2", Purge: "big", Provider: "cloudflare", Reason: "HTTP 400: code 1012: Request is invalid",
			Request: invalidation.Request{ID: "big~2", Tenant: "acme", Tags: []string{"a"}}, Time: time.Now()}}
		e.cdn.backlog = purge.Backlog{Queued: 4, OldestSeconds: 75, Providers: map[string]purge.ProviderBacklog{
			"cloudflare": {Pending: 4, OldestSeconds: 75, Failing: true, FailingSince: time.Now(), LastError: "HTTP 503: Service unavailable"}}}
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.srv.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	ctx, do := dashboardBrowser(t, 0, 0)

	do("log in with a wrong token",
		chromedp.Navigate(e.ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		clickAndLoad("login-submit"),
		textIs("login-error", "That is not the admin token."),
	)
	do("log in",
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		clickAndLoad("login-submit"),
		chromedp.WaitVisible(chromedp.ID("hit-ratio")),
		textIs("conn-text", "live"),
		textHas("layer-cdn", "not configured"),
	)

	if !screenshot {
		// Without history the axis spans its shortest width, not the hour.
		do("the time axis of a young process",
			textIs("chart-span", "last 5 minutes"),
			await(`[...document.querySelectorAll('#chart-ratio .axis text')].slice(-6).map((e) => e.firstChild.data).join('|') === 'now|1 min ago|2 min ago|3 min ago|4 min ago|5 min ago'`),
			await(`document.querySelectorAll('#chart-rps .axis text').length === 3 + 6`),
		)
		checkTimeAxis(t, ctx)
		do("no traffic yet", textIs("hit-ratio", "–"))
		do("no auto routes: no TTL card", await(`document.querySelector('#route-ttls tbody').dataset.shown === '[]' && document.getElementById('ttl-card').hidden`))
		for i := 0; i < 3; i++ {
			e.rec.Begin("acme", "/companies", "/companies").Hit(stats.L1)
		}
		q := e.rec.Begin("berg", "/", "/")
		q.Miss(stats.L1)
		q.Forwarded()
		do("the hit ratio after 3 hits and a miss", textIs("hit-ratio", "75.0%"))
		for i := 0; i < 6; i++ {
			e.rec.Begin("acme", "/companies", "/companies").Hit(stats.L1)
		}
		do("the hit ratio moves", textIs("hit-ratio", "90.0%"),
			await(`document.querySelector('#tenants tr[data-name="acme"]') !== null`))
	}

	if !screenshot {
		do("retry a dead letter",
			textHas("deadletters", "tenant is required"),
			chromedp.Click(chromedp.CSS(`#deadletters tr[data-seq="9"] button`)),
			// The button says so, then the refreshed list drops the letter.
			await(`document.querySelector('#deadletters tr[data-seq="9"]') === null`),
		)
		e.dead.mu.Lock()
		retried := e.dead.retried
		e.dead.mu.Unlock()
		if len(retried) != 1 || retried[0] != 9 {
			t.Fatalf("retried %v, want [9]", retried)
		}
	}

	if !screenshot {
		do("the CDN card shows the backlog and retries a failed purge",
			textHas("cdn-backlog", "4 queued (oldest 1m 15s)"),
			textHas("cdn-backlog", "retrying: HTTP 503"),
			textHas("failed-purges", "Request is invalid"),
			chromedp.Click(chromedp.CSS(`#failed-purges tr[data-id="big"] button`)),
			await(`document.querySelector('#failed-purges tr[data-id="big"]') === null`),
			chromedp.WaitVisible(chromedp.ID("failed-purges-empty")),
		)
		e.cdn.mu.Lock()
		retried := e.cdn.retried
		e.cdn.mu.Unlock()
		if len(retried) != 1 || retried[0] != "big" {
			t.Fatalf("retried %v, want [big]", retried)
		}
	}

	do("purge a tag from the form",
		chromedp.SetValue(chromedp.ID("purge-tenant"), "acme"),
		chromedp.SetValue(chromedp.ID("purge-value"), "company:acme"),
		chromedp.Click(chromedp.ID("purge-submit")),
		textHas("purge-targets", "queued"),
		textIs("purge-overall", "in progress"),
	)
	req, actor := e.purger.last()
	if req.Tenant != "acme" || len(req.Tags) != 1 || req.Tags[0] != "company:acme" || actor != "dashboard:127.0.0.1" {
		t.Fatalf("purge sent %+v by %q", req, actor)
	}
	id := lastPurgeID(e)
	e.purger.advance(id, purge.TargetL1, purge.StatusApplied)
	do("the purge is applied in L1", textHas("purge-targets", "l1applied"))
	e.purger.advance(id, "cloudflare", purge.StatusConfirmed)
	do("the purge is done", textIs("purge-overall", "done"), textHas("purge-targets", "cloudflareconfirmed"))

	do("purge everything needs a confirmation",
		chromedp.SetValue(chromedp.ID("purge-kind"), "everything"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('purge-kind').dispatchEvent(new Event('change'))`),
		chromedp.Click(chromedp.ID("purge-submit")),
		chromedp.WaitVisible(chromedp.ID("confirm-ok")),
		textIs("confirm-tenant", "acme"),
		chromedp.Click(chromedp.ID("confirm-ok")),
		textHas("purge-status", "everything"),
		textIs("purge-overall", "in progress"),
	)
	if req, _ := e.purger.last(); !req.Everything || req.Tenant != "acme" {
		t.Fatalf("purge everything sent %+v", req)
	}

	if screenshot {
		saveScreenshot(t, ctx, e)
	}
}

// dashboardBrowser starts Chromium, at width×height when not 0, and
// returns its tab and a function that runs steps in it, failing the test
// with what was being done. Any uncaught exception in the page fails the
// test.
func dashboardBrowser(t *testing.T, width, height int64) (context.Context, func(string, ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	browser := testenv.Browser(t)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	var jsErrs syncBuffer
	if err := chromedp.Listen(ctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			fmt.Fprintf(&jsErrs, "%s (line %d)\n", msg, d.LineNumber)
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s := jsErrs.String(); s != "" {
			t.Errorf("JavaScript exceptions in the dashboard:\n%s", s)
		}
	})
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	if width > 0 {
		do("set the viewport", chromedp.EmulateViewport(width, height, chromedp.EmulateMobile))
	}
	return ctx, do
}

// checkTimeAxis checks the dashboard's choice of time axis, in the page:
// the span follows the history's age up to the window, and the labels fit
// the width.
func checkTimeAxis(t *testing.T, ctx context.Context) {
	t.Helper()
	tests := []struct {
		name string
		expr string
		want string
	}{
		{"no history", "m.axisSpan(null, now, 3600)", "300"},
		{"70 s of history", "m.axisSpan(now - 70e3, now, 3600)", "300"},
		{"exactly 5 minutes", "m.axisSpan(now - 300e3, now, 3600)", "300"},
		{"7 minutes", "m.axisSpan(now - 420e3, now, 3600)", "600"},
		{"25 minutes", "m.axisSpan(now - 1500e3, now, 3600)", "1800"},
		{"50 minutes", "m.axisSpan(now - 3000e3, now, 3600)", "3600"},
		{"a full hour and more", "m.axisSpan(now - 3605e3, now, 3600)", "3600"},
		{"a window shorter than 5 minutes", "m.axisSpan(now - 10e3, now, 120)", "120"},
		{"a two-hour window, 40 minutes in", "m.axisSpan(now - 2400e3, now, 7200)", "2700"},
		{"5 minutes on a laptop", "m.timeTicks(300, 1300).join()", "0,60,120,180,240,300"},
		{"an hour on a laptop", "m.timeTicks(3600, 1300).join()", "0,600,1200,1800,2400,3000,3600"},
		{"45 minutes", "m.timeTicks(2700, 1300).join()", "0,900,1800,2700"},
		{"an hour on a phone", "m.timeTicks(3600, 300).join()", "0,1800,3600"},
		{"labels", "[0, 30, 90, 300, 3600, 7200].map(m.tickLabel).join('|')", "now|30 s ago|90 s ago|5 min ago|60 min ago|2 h ago"},
		{"headings", "[300, 3600, 7200, 45].map(m.spanText).join('|')", "last 5 minutes|last hour|last 2 hours|last 45 seconds"},
	}
	for _, tc := range tests {
		expr := fmt.Sprintf(`import('/static/charts.js').then((m) => { const now = Date.now(); return String(%s); })`, tc.expr)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.expr, got, tc.want)
		}
	}
}

func lastPurgeID(e *env) string {
	e.purger.mu.Lock()
	defer e.purger.mu.Unlock()
	if r := e.purger.reqs[len(e.purger.reqs)-1]; r.ID != "" {
		return r.ID
	}
	return "p" + strconv.Itoa(e.purger.n)
}

func saveScreenshot(t *testing.T, ctx context.Context, e *env) {
	t.Helper()
	id := lastPurgeID(e)
	e.purger.advance(id, purge.TargetL1, purge.StatusApplied)
	e.purger.advance(id, purge.TargetL2, purge.StatusApplied)
	e.purger.advance(id, "cloudflare", purge.StatusSent)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 900),
		textHas("purge-targets", "l2applied"),
		await(`document.querySelectorAll('#recent-purges .purge-item').length >= 3`),
		await(`document.querySelectorAll('#chart-ratio path').length > 3`),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "docs", "dashboard-synthetic.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

// fillDemoData gives the dashboard an hour of plausible traffic and
// activity, for the screenshot.
func fillDemoData(t *testing.T, e *env) {
	t.Helper()
	type route struct {
		path   string
		weight int
	}
	tenants := []struct {
		name   string
		weight int
	}{{"acme", 9}, {"berg", 6}, {"corvid", 3}, {"dunmore", 2}, {"elbe", 1}}
	routes := []route{{"/", 8}, {"/companies", 5}, {"/products", 4}, {"/gallery", 2}, {"/account", 1}}
	now := time.Now()
	start := now.Add(-time.Hour)
	step := e.cfg.SampleInterval
	if step == 0 {
		step = DefaultSampleInterval
	}
	buckets := int(time.Hour / step)
	rng := rand.New(rand.NewPCG(1, 2))
	for b := 0; b <= buckets; b++ {
		// Warm-up over the first minutes, a purge dip at 40 minutes.
		warm := 1 - 0.85*math.Exp(-float64(b)/40)
		if b >= buckets*2/3 && b < buckets*2/3+8 {
			warm *= 0.55
		}
		for _, tn := range tenants {
			for _, r := range routes {
				n := tn.weight * r.weight / 4
				for range n {
					q := e.rec.Begin(tn.name, r.path, r.path)
					if r.path == "/account" {
						q.Forwarded()
						continue
					}
					x := rng.Float64()
					switch {
					case x < 0.06*warm:
						q.Hit(stats.Browser)
					case x < 0.78*warm:
						q.Miss(stats.Browser)
						q.Hit(stats.L1)
					case x < 0.93*warm:
						q.Miss(stats.Browser)
						q.Miss(stats.L1)
						q.Hit(stats.L2)
					default:
						q.Miss(stats.Browser)
						q.Miss(stats.L1)
						q.Miss(stats.L2)
						q.Forwarded()
					}
				}
			}
		}
		snap := e.rec.Snapshot()
		snap.Time = start.Add(time.Duration(b) * step)
		e.srv.history.observe(snap, step)
	}
	// Light live traffic, so that requests/s is not zero on the picture.
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	t.Cleanup(func() { cancel(); <-stopped })
	go func() {
		defer close(stopped)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			q := e.rec.Begin(tenants[i%3].name, routes[i%4].path, routes[i%4].path)
			if i%9 == 0 {
				q.Miss(stats.L1)
				q.Forwarded()
			} else {
				q.Hit(stats.L1)
			}
		}
	}()

	// Activity: events and purges, with their states.
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for i, p := range []struct {
		tenant string
		tags   []string
		urls   []string
		by     string
		when   time.Duration
	}{
		{"berg", []string{"gallery:berg"}, nil, "admin:10.1.4.20", 14 * time.Minute},
		{"acme", nil, []string{"/companies?page=2"}, "cli", 6 * time.Minute},
		{"acme", []string{"company:acme"}, nil, "dashboard:10.1.4.23", 40 * time.Second},
	} {
		id, err := e.purger.Purge(context.Background(), invalidation.Request{Tenant: p.tenant, Tags: p.tags, URLs: p.urls}, false, p.by)
		if err != nil {
			t.Fatal(err)
		}
		e.purger.advance(id, purge.TargetL1, purge.StatusApplied)
		e.purger.advance(id, purge.TargetL2, purge.StatusApplied)
		if i < 2 {
			e.purger.advance(id, "cloudflare", purge.StatusConfirmed)
		} else {
			e.purger.advance(id, "cloudflare", purge.StatusRetrying)
		}
		e.audit.add(audit.Entry{Time: ago(p.when), Actor: p.by, Action: "purge", ID: id, Tenant: p.tenant, Tags: p.tags, URLs: p.urls, Result: "queued"})
		if i < 2 {
			e.audit.add(audit.Entry{Time: ago(p.when - 2*time.Second), Actor: p.by, Action: "purge.confirmed", ID: id, Tenant: p.tenant, Tags: p.tags, URLs: p.urls, Provider: "cloudflare", Result: "ok"})
		}
	}
	for _, ev := range []struct {
		tenant, id string
		tags       []string
		when       time.Duration
	}{
		{"acme", "evt-7f3a", []string{"company:acme", "company"}, 3 * time.Minute},
		{"corvid", "evt-7f41", []string{"product:881", "category:12"}, 90 * time.Second},
		{"berg", "evt-7f52", []string{"company:berg", "company"}, 20 * time.Second},
	} {
		e.audit.add(audit.Entry{Time: ago(ev.when), Actor: "event:" + ev.id, Action: "event", ID: ev.id, Tenant: ev.tenant, Tags: ev.tags, Result: "ok"})
	}
	e.dead.list = []DeadLetter{
		{Seq: 42, Time: ago(8 * time.Minute), Subject: "cachegate.events.elbe.product", Reason: "entity and key, or tags, are required", Body: `{"tenant":"elbe","type":"product.updated","entity":"product"}`},
		{Seq: 17, Time: ago(31 * time.Minute), Subject: "cachegate.events.acme.company", Reason: "invalid JSON: unexpected end of input", Body: `{"tenant":"acme","type":"company.upd`},
	}
}
