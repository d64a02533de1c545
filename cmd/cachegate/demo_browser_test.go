package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cachegate/cachegate/internal/testenv"
)

// screenshotEnv names the variable that makes TestDemoDashboardInBrowser
// let the demo's traffic run for a while and save the dashboard as
// docs/dashboard.png.
const screenshotEnv = "CACHEGATE_SCREENSHOT"

// screenshotWarmup is how long the demo's traffic runs before the
// screenshot, so that the charts have a minute of data.
const screenshotWarmup = 70 * time.Second

// pageAwait bounds every wait for the page: the dashboard pushes live
// figures every second, so this is generous even on a loaded machine.
const pageAwait = 30 * time.Second

// awaitJS waits until the JavaScript expression is true in the page.
func awaitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(pageAwait))
}

// byIDText is the expression of the text of the element with id.
func byIDText(id string) string {
	return fmt.Sprintf(`((document.getElementById(%q) || {}).textContent || "")`, id)
}

var (
	renderedRE = regexp.MustCompile(`data-rendered="(\d+)"`)
	versionRE  = regexp.MustCompile(`data-version="(\d+)"`)
)

func marker(t testing.TB, re *regexp.Regexp, r reply) int {
	t.Helper()
	m := re.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no %s in the page (%v)", re, r)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestDemoDashboardInBrowser is the newcomer's first run, in headless
// Chromium: `cachegate demo` with its own traffic, the printed dashboard
// URL and token, hit ratios that climb as the traffic warms the cache, a
// purge of company:acme from the dashboard's form followed to its end,
// and then acme's page refetched from the origin while berg's stays a hit.
//
// With CACHEGATE_SCREENSHOT=1 it lets the traffic run for a minute first
// and saves the dashboard as docs/dashboard.png.
func TestDemoDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	screenshot := os.Getenv(screenshotEnv) != ""
	// The browser first: the first hit ratio the page shows should be
	// that of a cold cache.
	browser := testenv.Browser(t)
	d := startDemo(t) // traffic on, as a newcomer runs it

	budget := time.Minute
	if screenshot {
		budget += 2 * screenshotWarmup
	}
	p := openDashboard(t, browser, d, budget)
	ctx, do, eval := p.ctx, p.do, p.eval

	// The hit ratio as a number (NaN while there is no traffic).
	const ratio = `parseFloat(` + `(document.getElementById("hit-ratio").textContent || "")` + `)`
	const requests = `parseInt((document.getElementById("requests").textContent || "0").replace(/[^0-9]/g, ""), 10)`
	do("the first live figures of the demo's traffic", awaitJS(requests+` > 0 && !isNaN(`+ratio+`)`))
	first := eval(byIDText("hit-ratio"))
	firstReqs := eval(`String(` + requests + `)`)
	do("the hit ratio climbs as the traffic warms the cache",
		awaitJS(fmt.Sprintf(`%s > %s && %s > %s`, ratio, strings.TrimSuffix(first, "%"), requests, firstReqs)),
		awaitJS(`parseFloat(document.querySelector("#layer-l1 .value").textContent) > 0`),
		awaitJS(`document.querySelector('#tenants tr[data-name="acme"]') !== null && document.querySelector('#tenants tr[data-name="berg"]') !== null`),
	)
	t.Logf("hit ratio %s of %s requests, then %s of %s", first, firstReqs, eval(byIDText("hit-ratio")), eval(byIDText("requests")))

	if screenshot {
		t.Logf("letting the demo traffic run for %v for the screenshot", screenshotWarmup)
		select {
		case <-time.After(screenshotWarmup):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		do("the charts have data", awaitJS(`document.querySelectorAll('#chart-ratio path').length > 3`))
	}

	// The pages the purge must and must not touch, in a variant the
	// demo's traffic never asks for (it could refill acme's page between
	// the purge and the check), and as the traffic asks for them.
	const probe = "/?from=browser-test"
	d.warm(t, "acme", probe)
	bergProbe := d.warm(t, "berg", probe)
	acmeBefore := d.warm(t, "acme", "/")
	berg := d.warm(t, "berg", "/")

	do("inspect the probe: L1 holds it fresh, with its tags",
		chromedp.SetValue(chromedp.ID("inspect-url"), "http://acme.localhost"+probe),
		chromedp.Click(chromedp.ID("inspect-submit")),
		awaitJS(`(() => { const tr = document.querySelector('#inspect-layers tr[data-layer="l1"]'); return tr !== null && tr.textContent.includes("yes") && tr.textContent.includes("fresh") && tr.textContent.includes("company:acme"); })()`),
		awaitJS(byIDText("inspect-summary")+`.startsWith("Tenant acme")`),
	)
	do("the keys company:acme reaches, the probe's among them",
		chromedp.SetValue(chromedp.ID("keys-tenant"), "acme"),
		chromedp.SetValue(chromedp.ID("keys-tag"), "company:acme"),
		chromedp.Click(chromedp.ID("keys-submit")),
		awaitJS(`[...document.querySelectorAll('#keys-list li')].some((li) => li.textContent.includes("from=browser-test"))`),
	)

	do("purge company:acme of tenant acme from the form, and follow it to the end",
		chromedp.SetValue(chromedp.ID("purge-tenant"), "acme"),
		chromedp.SetValue(chromedp.ID("purge-value"), "company:acme"),
		chromedp.Click(chromedp.ID("purge-submit")),
		awaitJS(byIDText("purge-status")+`.includes("company:acme")`),
		awaitJS(byIDText("purge-overall")+` === "done"`),
		awaitJS(byIDText("purge-targets")+`.includes("l1applied")`),
	)
	t.Logf("purge state in the page: %s: %s", eval(byIDText("purge-overall")), eval(byIDText("purge-targets")))
	do("the purge is listed with the recent purges and in the activity",
		awaitJS(byIDText("recent-purges")+`.includes("company:acme")`),
		awaitJS(`[...document.querySelectorAll('#audit tbody tr')].some((tr) => tr.textContent.includes("company:acme") && tr.textContent.includes("purge"))`),
	)

	if r := d.get(t, "acme", probe); r.isHit() {
		t.Errorf("acme %s after the purge: %v, want a miss", probe, r)
	}
	if r := d.get(t, "acme", probe); !r.isHit() {
		t.Errorf("acme %s the second time after the purge: %v, want a hit of the refill", probe, r)
	}
	// acme's / itself: a miss, or a hit of what the traffic refetched
	// after the purge, never the page stored before it.
	acme := d.get(t, "acme", "/")
	if acme.isHit() && marker(t, renderedRE, acme) == marker(t, renderedRE, acmeBefore) {
		t.Errorf("acme / after the purge is the page rendered before it: %v", acme)
	}
	t.Logf("acme / after the purge: %v", acme)
	for _, c := range []struct {
		path   string
		before reply
	}{{probe, bergProbe}, {"/", berg}} {
		r := d.get(t, "berg", c.path)
		if r.isHit() && marker(t, renderedRE, r) == marker(t, renderedRE, c.before) {
			continue
		}
		// The demo's editor may have changed berg meanwhile; that is
		// the one legitimate reason for a miss.
		if marker(t, versionRE, r) != marker(t, versionRE, c.before) {
			t.Logf("berg %s was edited by the demo traffic during the test: %v", c.path, r)
			continue
		}
		t.Errorf("berg %s after acme's purge: %v, want the same hit as before", c.path, r)
	}

	if screenshot {
		saveDashboard(t, ctx)
	}
}

// dashboard is the demo's dashboard open in a browser tab, logged in with
// the printed token; JavaScript exceptions in it fail the test.
type dashboard struct {
	t   testing.TB
	ctx context.Context
}

// openDashboard opens d's printed dashboard URL in browser, logs in with
// the printed token and waits for the live figures; every later step must
// end within budget.
func openDashboard(t testing.TB, browser context.Context, d *demo, budget time.Duration) *dashboard {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, budget)
	t.Cleanup(cancel)
	var jsErrs strings.Builder
	var jsMu sync.Mutex
	if err := chromedp.Listen(ctx, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			jsMu.Lock()
			fmt.Fprintf(&jsErrs, "%s (line %d)\n", msg, d.LineNumber)
			jsMu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		jsMu.Lock()
		defer jsMu.Unlock()
		if jsErrs.Len() > 0 {
			t.Errorf("JavaScript exceptions in the dashboard:\n%s", jsErrs.String())
		}
	})
	p := &dashboard{t: t, ctx: ctx}
	submitAndLoad := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("login-submit")))
	p.do("open the printed dashboard URL and log in with the printed token",
		chromedp.Navigate(d.dashboard),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), d.token),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := submitAndLoad(ctx, tg)
			return chromedp.Void{}, err
		},
		chromedp.WaitVisible(chromedp.ID("hit-ratio")),
		awaitJS(byIDText("conn-text")+` === "live"`),
	)
	return p
}

// do runs steps in the page, failing the test with what it was doing.
func (p *dashboard) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression of type string in the page.
func (p *dashboard) eval(expr string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// saveDashboard writes a full-page screenshot of the dashboard to
// docs/dashboard.png.
func saveDashboard(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1440, 900),
		awaitJS(`document.querySelectorAll('#recent-purges .purge-item').length >= 1`),
		awaitJS(`document.querySelectorAll('#audit tbody tr').length >= 1`),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "dashboard.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
