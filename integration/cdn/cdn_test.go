package cdn_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/cachegate/cachegate/tagging"
)

// acmeEditTags are the tags of company.updated for acme under the demo's
// event rules: the defaults company:acme and company (the gallery has its
// own event, gallery.updated).
var acmeEditTags = []string{"company:acme", "company"}

// everyLayer is a purge applied in the gateway's layers and confirmed by
// both providers.
var everyLayer = map[string]purge.Status{
	purge.TargetL1: purge.StatusApplied,
	purge.TargetL2: purge.StatusApplied,
	"cloudflare":   purge.StatusConfirmed,
	"varnish":      purge.StatusConfirmed,
}

func set(tags []string) map[string]bool {
	m := map[string]bool{}
	for _, t := range tags {
		m[t] = true
	}
	return m
}

func sorted(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// notOf matches CDN tags of tenants other than tenant.
func notOf(tenant string) func(string) bool {
	return func(tag string) bool { return !strings.HasPrefix(tag, tenant+":") }
}

// checkAdminPurge: Cloudflare purged berg's company:berg and its fallback
// bucket, and nothing of another tenant. The admin API also sends the
// default tag of the event entity it uses ("purge", and its bucket): an
// over-purge of responses tagged "purge", tolerated here, reported to
// the admin adapter's owner.
func checkAdminPurge(t *testing.T, got map[string]bool) {
	t.Helper()
	for _, tag := range tagging.CDNPurgeTags("berg", []string{"company:berg"}) {
		if !got[tag] {
			t.Errorf("Cloudflare did not purge %q (purged %q)", tag, sorted(got))
		}
	}
	extra := set(tagging.CDNPurgeTags("berg", []string{"company:berg", "purge"}))
	for tag := range got {
		if !extra[tag] {
			t.Errorf("Cloudflare was asked to purge %q for an admin purge of berg's company:berg", tag)
		}
	}
}

// TestEditPurgesThatCompanyAtEveryLayer is the "done when": an
// edit of acme drops acme's pages from L1, L2, Varnish and Cloudflare,
// leaves berg's cached everywhere, and the purge reads confirmed at each
// provider.
func TestEditPurgesThatCompanyAtEveryLayer(t *testing.T) {
	s := newStack(t)
	// acme's pages carrying one of the edit's tags, and berg's pages
	// (berg's listing has the same tag name, company, under berg's prefix).
	// acme's gallery fragment is not the description's: it stays too.
	purged := [][2]string{{"acme", "/"}, {"acme", "/companies"}, {"acme", "/companies/acme"}}
	kept := [][2]string{{"berg", "/"}, {"berg", "/companies"}, {"berg", "/companies/berg"}, {"berg", "/fragments/gallery"}, {"acme", "/fragments/gallery"}}
	for _, p := range append(slices.Clone(purged), kept...) {
		s.warm(p[0], p[1])
	}
	acme := s.get("acme", "/")

	// The response Varnish holds and passes on carries Cloudflare's tag
	// header for the CDN above; Varnish's own xkey never leaves it.
	cacheTags := strings.Split(acme.header.Get("Cache-Tag"), ",")
	if !slices.Contains(cacheTags, "acme:company:acme") || slices.ContainsFunc(cacheTags, notOf("acme")) {
		t.Errorf("Cache-Tag through Varnish = %q, want acme:company:acme among acme's tags", cacheTags)
	}
	if got := acme.header.Get("Xkey"); got != "" {
		t.Errorf("xkey leaked through Varnish: %q", got)
	}
	// The CDN's directives go in Cloudflare's own header (Varnish, which
	// reads Cache-Control, does not count) and pass through Varnish.
	if got := acme.header.Get("Cloudflare-CDN-Cache-Control"); !strings.HasPrefix(got, "max-age=86400") {
		t.Errorf("Cloudflare-CDN-Cache-Control through Varnish = %q, want the profile rule's cdn directives", got)
	}
	if n := len(s.cf.Calls()); n != 0 {
		t.Fatalf("%d Cloudflare calls before any edit", n)
	}

	const desc = "Acme now ships on Saturdays."
	id := s.edit("acme", desc)
	st := s.awaitStatuses(id, everyLayer, 20*time.Second)
	if !st.Done || st.Failed {
		t.Errorf("purge %s: done %v, failed %v: %+v", id, st.Done, st.Failed, st.Targets)
	}

	// Exactly acme's company tags and their fallback buckets at Cloudflare.
	want := set(tagging.CDNPurgeTags("acme", acmeEditTags))
	if got := s.cfTags(); !maps.Equal(got, want) {
		t.Errorf("Cloudflare purged %q, want %q", sorted(got), sorted(want))
	}
	for _, c := range s.cf.Calls() {
		if c.Zone != zone || c.Kind != "tags" || c.Auth != "Bearer "+cfToken {
			t.Errorf("Cloudflare call %+v", c)
		}
		for _, tag := range c.Items {
			if !strings.HasPrefix(tag, "acme:") {
				t.Errorf("Cloudflare was asked to purge %q", tag)
			}
		}
	}

	// Varnish and the gateway fetch acme's page anew; berg's stays cached.
	after := s.get("acme", "/")
	if after.xCache != "MISS" || !hasFwd(after.cacheStatus) {
		t.Errorf("acme / after the edit: X-Cache %q, Cache-Status %q; want a miss in Varnish and in the gateway", after.xCache, after.cacheStatus)
	}
	if !strings.Contains(after.body, desc) {
		t.Error("acme / after the edit does not show the new description")
	}
	for _, p := range purged[1:] {
		if got := s.get(p[0], p[1]); got.xCache != "MISS" || !hasFwd(got.cacheStatus) {
			t.Errorf("%s%s after acme's edit: X-Cache %q, Cache-Status %q; want a miss in Varnish and in the gateway", p[0], p[1], got.xCache, got.cacheStatus)
		}
	}
	for _, p := range kept {
		if got := s.get(p[0], p[1]); got.xCache != "HIT" {
			t.Errorf("%s%s after acme's edit: X-Cache %q, Cache-Status %q; want a hit", p[0], p[1], got.xCache, got.cacheStatus)
		}
	}
}

// TestAdminPurgeReachesBothProviders: a purge by tag from the admin API
// is delivered to Cloudflare and Varnish and confirmed at both.
func TestAdminPurgeReachesBothProviders(t *testing.T) {
	s := newStack(t)
	s.warm("berg", "/")
	s.warm("acme", "/")

	var accepted struct{ ID string }
	code := s.admin(http.MethodPost, "/api/v1/purge", map[string]any{"tenant": "berg", "tags": []string{"company:berg"}}, &accepted)
	if code != http.StatusAccepted || accepted.ID == "" {
		t.Fatalf("POST /api/v1/purge: %d, id %q", code, accepted.ID)
	}
	s.awaitStatuses(accepted.ID, map[string]purge.Status{
		purge.TargetL1: purge.StatusApplied,
		"cloudflare":   purge.StatusConfirmed,
		"varnish":      purge.StatusConfirmed,
	}, 20*time.Second)

	checkAdminPurge(t, s.cfTags())
	if berg := s.get("berg", "/"); berg.xCache != "MISS" || !hasFwd(berg.cacheStatus) {
		t.Errorf("berg / after its purge: X-Cache %q, Cache-Status %q; want a miss", berg.xCache, berg.cacheStatus)
	}
	if acme := s.get("acme", "/"); acme.xCache != "HIT" {
		t.Errorf("acme / after berg's purge: X-Cache %q; want a hit", acme.xCache)
	}
}

// TestCloudflareOutage: while Cloudflare answers 5xx the purge reads
// retrying there (Varnish is purged regardless); once Cloudflare recovers
// the purge is confirmed, and so is one requested during the outage.
func TestCloudflareOutage(t *testing.T) {
	s := newStack(t)
	s.warm("acme", "/")
	s.warm("berg", "/")

	recovered := make(chan struct{})
	faults := []cloudflarefake.Fault{
		{Status: 500, Code: 10000, Message: "Internal server error"},
		{Status: 502, HTMLBody: true},
		{Status: 503, Code: 10000, Message: "Service unavailable"},
		// The fourth call waits until the outage ends, then succeeds.
		{Block: recovered},
	}
	s.cf.Fail(faults...)
	defer func() {
		select {
		case <-recovered:
		default:
			close(recovered)
		}
	}()

	id := s.edit("acme", "Closed for inventory on Monday.")
	st := s.awaitStatuses(id, map[string]purge.Status{
		purge.TargetL1: purge.StatusApplied,
		purge.TargetL2: purge.StatusApplied,
		"varnish":      purge.StatusConfirmed,
	}, 20*time.Second)
	testenv.WaitFor(t, 20*time.Second, func() error {
		st = s.state(id)
		if cf := st.Targets["cloudflare"]; cf.Status != purge.StatusRetrying || cf.Attempts != 3 {
			return fmt.Errorf("cloudflare %+v, want retrying after 3 attempts", cf)
		}
		return nil
	})
	if cf := st.Targets["cloudflare"]; !strings.Contains(cf.Detail, "503") && !strings.Contains(cf.Detail, "10000") {
		t.Errorf("retrying state does not say why: %q", cf.Detail)
	}
	if st.Done {
		t.Error("purge reads done while Cloudflare is retrying")
	}
	// Varnish did not wait for Cloudflare.
	if acme := s.get("acme", "/"); acme.xCache != "MISS" {
		t.Errorf("acme / during the CDN outage: X-Cache %q, want MISS", acme.xCache)
	}

	// A purge asked for during the outage is queued, not lost.
	var accepted struct{ ID string }
	if code := s.admin(http.MethodPost, "/api/v1/purge", map[string]any{"tenant": "berg", "tags": []string{"company:berg"}}, &accepted); code != http.StatusAccepted {
		t.Fatalf("POST /api/v1/purge during the outage: %d", code)
	}

	close(recovered)
	st = s.awaitStatuses(id, everyLayer, 30*time.Second)
	if cf := st.Targets["cloudflare"]; cf.Attempts != len(faults) {
		t.Errorf("cloudflare confirmed after %d attempts, want %d", cf.Attempts, len(faults))
	}
	if !st.Done || st.Failed {
		t.Errorf("purge %s: done %v, failed %v", id, st.Done, st.Failed)
	}
	s.awaitStatuses(accepted.ID, map[string]purge.Status{"cloudflare": purge.StatusConfirmed, "varnish": purge.StatusConfirmed}, 30*time.Second)

	got := s.cfTags()
	acmeTags := maps.Clone(got)
	maps.DeleteFunc(acmeTags, func(tag string, _ bool) bool { return notOf("acme")(tag) })
	if want := set(tagging.CDNPurgeTags("acme", acmeEditTags)); !maps.Equal(acmeTags, want) {
		t.Errorf("Cloudflare confirmed %q for acme, want %q", sorted(acmeTags), sorted(want))
	}
	maps.DeleteFunc(got, func(tag string, _ bool) bool { return !notOf("acme")(tag) })
	checkAdminPurge(t, got)
	failed := 0
	for _, c := range s.cf.Calls() {
		if !c.Success {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d failed Cloudflare calls, want 3", failed)
	}
}

// TestOverflowedTagIsPurgedByItsBucket: a response names more tags than
// Varnish's xkey header holds, so its last tags reach Varnish only as
// their fallback buckets; a purge of such a tag still drops it from
// Varnish (the dispatcher purges each tag's bucket too), while a page
// without that bucket stays cached.
func TestOverflowedTagIsPurgedByItsBucket(t *testing.T) {
	s := newStack(t)
	s.warm("acme", "/many-tags")
	s.warm("acme", "/")

	last := fmt.Sprintf("item:%d", manyTagsN-1)
	var accepted struct{ ID string }
	if code := s.admin(http.MethodPost, "/api/v1/purge", map[string]any{"tenant": "acme", "tags": []string{last}}, &accepted); code != http.StatusAccepted {
		t.Fatalf("POST /api/v1/purge: %d", code)
	}
	s.awaitStatuses(accepted.ID, map[string]purge.Status{"cloudflare": purge.StatusConfirmed, "varnish": purge.StatusConfirmed}, 20*time.Second)
	if p := s.get("acme", "/many-tags"); p.xCache != "MISS" || !hasFwd(p.cacheStatus) {
		t.Errorf("/many-tags after a purge of %s: X-Cache %q, Cache-Status %q; want a miss", last, p.xCache, p.cacheStatus)
	}
	if p := s.get("acme", "/"); p.xCache != "HIT" {
		t.Errorf("acme / after a purge of %s: X-Cache %q; want a hit", last, p.xCache)
	}
}
