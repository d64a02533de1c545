package purge_test

import (
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/fastly/fastlyfake"
	"github.com/cachegate/cachegate/tagging"
)

// A soft invalidation is a soft purge at Fastly (Fastly-Soft-Purge: 1),
// a hard one stays hard, even when both wait in the queue together;
// Cloudflare, which has no soft purge, purges both.
func TestSoftRequestIsSoftAtFastlyOnly(t *testing.T) {
	e := newEnv(t, "cloudflare", "fastly")
	fs, fp := fastlyPurger(t)
	soft := tagReq("s", "acme", "gallery:acme")
	soft.Soft = true
	e.enqueue(soft)
	e.enqueue(tagReq("h", "acme", "company:acme"))
	e.start(e.queue, e.fastCfg(
		purge.Provider{Purger: e.cloudflare(10 * time.Second), Zone: "zone-shared"},
		purge.Provider{Purger: fp, Zone: "service-1"},
	))
	for _, id := range []string{"s", "h"} {
		for _, p := range []string{"fastly", "cloudflare"} {
			e.waitStatus(id, p, purge.StatusConfirmed, 5*time.Second)
		}
	}
	want := map[string]bool{}
	for _, k := range tagging.CDNPurgeTags("acme", []string{"gallery:acme"}) {
		want[k] = true
	}
	for _, k := range tagging.CDNPurgeTags("acme", []string{"company:acme"}) {
		want[k] = false
	}
	calls := fs.Calls()
	if len(calls) == 0 {
		t.Fatal("no fastly call")
	}
	for _, c := range calls {
		for _, k := range c.Keys {
			if soft, ok := want[k]; ok && soft != c.Soft {
				t.Fatalf("key %s sent with soft=%v, want %v (calls %+v)", k, c.Soft, soft, calls)
			}
		}
	}
	if !slices.ContainsFunc(calls, func(c fastlyfake.Call) bool { return c.Soft }) {
		t.Fatalf("no soft purge among %+v", calls)
	}
}
