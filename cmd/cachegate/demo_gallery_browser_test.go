package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cachegate/cachegate/internal/testenv"
)

// routeCell is the expression of a number in the dashboard's Routes table:
// the row of route, column 2 (requests), 4 (L1 hits) or 6 (origin).
func routeCell(route string, col int) string {
	return fmt.Sprintf(`parseInt(((document.querySelector('#routes tr[data-name=%q] td:nth-child(%d)') || {}).textContent || "-1").replace(/[^0-9-]/g, ""), 10)`, route, col)
}

// TestDemoGalleryEditOnDashboard is the fragment story as a user sees it:
// acme's profile page viewed twice (its shell and its two fragments
// fetched once, then hits), the gallery edited, the page viewed again;
// the dashboard's Routes table shows one more origin fetch for the
// gallery fragment and none for the shell or the listings, the activity
// shows the gallery event, and the page in the browser shows the new
// caption.
func TestDemoGalleryEditOnDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	browser := testenv.Browser(t)
	d := startDemo(t, "--traffic=false") // every request is the test's
	p := openDashboard(t, browser, d, time.Minute)

	d.warm(t, "acme", "/") // a fill, then a hit
	routes := func(profileL1, gallery int) string {
		return fmt.Sprintf(`%s === 2 && %s === %d && %s === 1 && %s === %d && %s === 1`,
			routeCell("profile", 2), routeCell("profile", 4), profileL1, routeCell("profile", 6),
			routeCell("gallery-fragment", 6), gallery, routeCell("listings-fragment", 6))
	}
	// awaitRoutes waits for the Routes table to read expr, and shows the
	// table when it does not.
	awaitRoutes := func(what, expr string) {
		t.Helper()
		if err := chromedp.Do(p.ctx, awaitJS(expr)); err != nil {
			t.Fatalf("%s: %v; the Routes table reads:\n%s", what, err, p.eval(`document.querySelector('#routes tbody').innerText`))
		}
	}
	awaitRoutes("the Routes table: the shell and each fragment fetched once, then hits",
		routes(1, 1)+` && `+routeCell("gallery-fragment", 4)+` === 1 && `+routeCell("listings-fragment", 4)+` === 1`)

	d.editGallery(t, "acme", 1, "Our new warehouse")
	d.get(t, "acme", "/")
	awaitRoutes("the Routes table after the gallery edit: only the gallery refetched",
		strings.Replace(routes(2, 2), routeCell("profile", 2)+` === 2`, routeCell("profile", 2)+` === 3`, 1))
	p.do("the activity shows the gallery event and its one tag",
		awaitJS(`[...document.querySelectorAll('#audit tbody tr')].some((tr) => tr.textContent.includes("gallery:acme") && !tr.textContent.includes("company:acme"))`))
	t.Logf("routes: %s", p.eval(`document.querySelector('#routes tbody').innerText`))

	// The site itself, in another tab of the same browser.
	site, cancel := chromedp.NewContext(p.ctx)
	defer cancel()
	const first = `((document.querySelector('#gallery figcaption') || {}).textContent || "")`
	if err := chromedp.Do(site, chromedp.Navigate(fmt.Sprintf("http://acme.localhost:%s/", d.port)), awaitJS(first+` !== ""`)); err != nil {
		t.Fatalf("acme's page in the browser: %v", err)
	}
	caption, err := chromedp.Run(site, chromedp.Evaluate[string](first))
	if err != nil {
		t.Fatal(err)
	}
	if caption != "Our new warehouse" {
		t.Errorf("the first gallery caption in the browser: %q, want the edit", caption)
	}
}
