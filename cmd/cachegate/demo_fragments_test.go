package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/web"
)

// fragmentsRE reads the assembled page's fragment counts from its
// Cache-Status.
var fragmentsRE = regexp.MustCompile(`; fragments=(\d+); fragment-hits=(\d+)$`)

// fragments returns the fragment counts of an assembled page.
func fragments(t testing.TB, r reply) (n, hits int) {
	t.Helper()
	m := fragmentsRE.FindStringSubmatch(r.cacheStatus())
	if m == nil {
		t.Fatalf("not an assembled page: %v", r)
	}
	fmt.Sscan(m[1], &n)
	fmt.Sscan(m[2], &hits)
	return n, hits
}

// sectionRendered is the render marker of the fragment whose section has
// id, or of the shell (<html>) for id "".
func sectionRendered(t testing.TB, r reply, id string) string {
	t.Helper()
	re := renderedRE
	if id != "" {
		re = regexp.MustCompile(`id="` + id + `"[^>]*data-rendered="(\d+)"`)
	}
	m := re.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no section %q with a render marker in the page (%v)", id, r)
	}
	return m[1]
}

// editGallery changes caption n of tenant's gallery as the demo's editor
// does, through the gateway, and fails unless the change was applied.
func (d *demo) editGallery(t testing.TB, tenant string, n int, title string) {
	t.Helper()
	body := fmt.Sprintf(`{"image":%d,"title":%q}`, n, title)
	r := send(t, http.MethodPost, d.gateway, d.host(tenant), "/edit/gallery", strings.NewReader(body),
		"Authorization: Bearer demo-editor", "Content-Type: application/json")
	var res struct {
		Applied bool   `json:"applied"`
		Note    string `json:"note"`
	}
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != http.StatusOK || !res.Applied {
		t.Fatalf("POST /edit/gallery: %v: %s", r, r.body)
	}
}

// routeOrigin is how many requests of route the gateway forwarded to the
// origin, as GET /api/v1/stats (and the dashboard's Routes table) counts.
func (d *demo) routeOrigin(t testing.TB) map[string]uint64 {
	t.Helper()
	r := get(t, d.admin, "", "/api/v1/stats", "Authorization: Bearer "+d.token)
	var s struct {
		Routes map[string]struct {
			Layers map[string]struct {
				Hits uint64 `json:"hits"`
			} `json:"layers"`
		} `json:"routes"`
	}
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/stats: %d %v: %s", r.status, err, r.body)
	}
	out := map[string]uint64{}
	for name, c := range s.Routes {
		out[name] = c.Layers["origin"].Hits
	}
	return out
}

// TestDemoGalleryEdit: the demo's profile page is assembled from a shell
// and two fragments; an edit of acme's gallery refetches the gallery
// fragment alone: the shell and the related listings stay hits, the origin
// and the per-route stats count one gallery fetch and nothing else, and
// berg's page is untouched.
func TestDemoGalleryEdit(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false")

	first := d.get(t, "acme", "/")
	if n, hits := fragments(t, first); n != 2 || hits != 0 || !strings.HasPrefix(first.cacheStatus(), "cachegate; fwd=miss") {
		t.Fatalf("first view: %v, want a missed shell and two missed fragments", first)
	}
	before := d.warm(t, "acme", "/")
	if n, hits := fragments(t, before); n != 2 || hits != 2 {
		t.Fatalf("second view: %v, want the shell and both fragments from the cache", before)
	}
	berg := d.warm(t, "berg", "/")
	if strings.Contains(before.body, "<esi:") || !strings.Contains(before.body, `id="gallery"`) || !strings.Contains(before.body, "Nordbolt AB") {
		t.Fatalf("the assembled page lacks a fragment or shows ESI markup:\n%s", before.body)
	}
	_, paths := d.originStats(t)
	routes := d.routeOrigin(t)

	d.editGallery(t, "acme", 2, "Robot assembly line")

	after := d.get(t, "acme", "/")
	if !after.isHit() {
		t.Errorf("the shell after a gallery edit: %v, want a hit", after)
	}
	if n, hits := fragments(t, after); n != 2 || hits != 1 {
		t.Errorf("after the gallery edit: %v, want one fragment (the gallery) refetched", after)
	}
	if !strings.Contains(after.body, "Robot assembly line") {
		t.Error("the page after the gallery edit does not show the new caption")
	}
	for _, c := range []struct {
		id   string
		same bool
	}{{"", true}, {"listings", true}, {"gallery", false}} {
		was, is := sectionRendered(t, before, c.id), sectionRendered(t, after, c.id)
		if was == "" || (was == is) != c.same {
			t.Errorf("section %q rendered #%s before the edit, #%s after; want the same: %v", c.id, was, is, c.same)
		}
	}
	_, paths2 := d.originStats(t)
	for path, want := range map[string]int{"/": 0, "/fragments/listings": 0, "/fragments/gallery": 1} {
		if got := paths2[path] - paths[path]; got != want {
			t.Errorf("the origin served %s %d times for the view after the edit, want %d", path, got, want)
		}
	}
	// The dashboard's Routes table reads these counts.
	routes2 := d.routeOrigin(t)
	for route, want := range map[string]uint64{"profile": 0, "listings-fragment": 0, "gallery-fragment": 1} {
		if got := routes2[route] - routes[route]; got != want {
			t.Errorf("route %s: %d origin fetches after the edit, want %d (before %v, after %v)", route, got, want, routes, routes2)
		}
	}
	if r := d.get(t, "berg", "/"); !r.isHit() || r.body != berg.body {
		t.Errorf("berg / after acme's gallery edit: %v, want the same page from the cache", r)
	}
	// The gallery's TTL is learnt (ttl: auto): the edit's event showed
	// that its changes are announced, so it is at its maximum, and the
	// dashboard's Learned TTLs card says so.
	if ttl := d.routeTTL(t, "gallery-fragment"); !ttl.Covered || ttl.TTLSeconds != 3600 || !strings.Contains(ttl.Reason, "event") {
		t.Errorf("gallery-fragment's learned TTL after the edit: %+v, want covered by events at 3600 s", ttl)
	}
}

// routeTTL is the learned TTL of route, as the dashboard shows it.
func (d *demo) routeTTL(t testing.TB, route string) web.RouteTTL {
	t.Helper()
	r := get(t, d.admin, "", "/api/v1/routes/ttl", "Authorization: Bearer "+d.token)
	var s web.RouteTTLsResponse
	if err := json.Unmarshal([]byte(r.body), &s); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/routes/ttl: %d %v: %s", r.status, err, r.body)
	}
	for _, rt := range s.Routes {
		if rt.Route == route {
			return rt
		}
	}
	t.Fatalf("GET /api/v1/routes/ttl lists no route %s: %s", route, r.body)
	return web.RouteTTL{}
}

// TestDemoSoftPurge is soft purge as a user tries it on the demo: warm
// acme's page, `cachegate purge --soft`, and the next readers get the old
// page at once, marked soft, while one refill runs; then the refill is
// served, with a single origin fetch for all of them.
func TestDemoSoftPurge(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false")
	before := d.warm(t, "acme", "/companies")
	_, paths := d.originStats(t)
	code, stdout, stderr := d.op(t, "purge", "--tenant", "acme", "--tag", "company", "--soft", "--wait")
	if code != 0 {
		t.Fatalf("purge --soft --wait: exit %d: %s%s", code, stdout, stderr)
	}
	stale := d.get(t, "acme", "/companies")
	if cs := stale.cacheStatus(); !strings.HasPrefix(cs, "cachegate; fwd=stale; detail=l1") || !strings.HasSuffix(cs, "; soft") || stale.body != before.body {
		t.Fatalf("the first reader after the soft purge: %v, want the old page at once, marked soft", stale)
	}
	if cc := stale.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") && !strings.Contains(cc, "no-cache") {
		t.Errorf("the softly purged page goes out as %q: a browser could keep it past the window", cc)
	}
	// Readers get the old page or the refill, never a wait of their own;
	// once the refill is stored it is a hit.
	testenv.WaitFor(t, 10*time.Second, func() error {
		r := d.get(t, "acme", "/companies")
		switch {
		case r.isHit():
			return nil
		case strings.HasSuffix(r.cacheStatus(), "; soft") && r.body == before.body:
			return fmt.Errorf("still the old page: %v", r)
		}
		t.Fatalf("a reader during the refill: %v, want the old page (soft) or the refill (hit)", r)
		return nil
	})
	// The refill revalidated (nothing changed: the origin answered 304),
	// once for every reader.
	_, paths2 := d.originStats(t)
	if got := paths2["/companies"] - paths["/companies"]; got != 1 {
		t.Errorf("the origin served /companies %d times after the soft purge, want one refill", got)
	}
}
