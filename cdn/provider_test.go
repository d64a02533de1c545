package cdn

import (
	"slices"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, name := range Names() {
		f, err := Lookup(name)
		if err != nil || f.Name != name || f.TagHeader == "" || (f.TagSep != ',' && f.TagSep != ' ') || f.MaxTagBytes <= 0 {
			t.Errorf("Lookup(%q) = %+v, %v", name, f, err)
		}
		// A caller's change to the returned slice must not change the table.
		f.NoStoreHeaders[0] = "X"
		if g, _ := Lookup(name); g.NoStoreHeaders[0] == "X" {
			t.Errorf("%s: NoStoreHeaders shared", name)
		}
	}
	for _, bad := range []string{"", None, "Cloudflare", "akamai "} {
		if _, err := Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) accepted", bad)
		}
	}
}

func TestCloudflarePlan(t *testing.T) {
	if p, ok := CloudflarePlan(""); !ok || p.Name != DefaultPlan {
		t.Errorf(`CloudflarePlan("") = %+v, %v`, p, ok)
	}
	if _, ok := CloudflarePlan("gold"); ok {
		t.Error("unknown plan accepted")
	}
	for _, name := range PlanNames() {
		if p, ok := CloudflarePlan(name); !ok || p.PurgesPerSecond <= 0 || p.PurgeBurst <= 0 || p.URLsPerCall <= 0 {
			t.Errorf("plan %s = %+v", name, p)
		}
	}
	if !slices.Contains(PlanNames(), DefaultPlan) {
		t.Error("DefaultPlan is not a plan")
	}
}
