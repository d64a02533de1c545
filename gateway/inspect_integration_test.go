package gateway_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

func inspect(t *testing.T, g *gw, path string, hdr http.Header) gateway.Inspection {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	r.Host, r.RequestURI = "acme", path
	if hdr != nil {
		r.Header = hdr
	}
	in, err := g.Inspect(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestInspect: what Inspect reports follows an entry through its life:
// absent, fresh with its tags, in its stale-while-revalidate window, then
// expired; a Vary'd URL shows the variant the given headers select; an
// authenticated request is reported never cached; KeysByTag finds the
// entry by its tag until an invalidation.
func TestInspect(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Surrogate-Key", "company:acme")
		switch r.URL.Path {
		case "/page":
			w.Header().Set("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=600")
		case "/vary":
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Vary", "X-Flavour")
		}
		w.Write([]byte("body"))
	})
	g := startGateway(t, o, nil)

	layer := func(in gateway.Inspection) gateway.LayerInspection {
		t.Helper()
		if len(in.Layers) != 1 || in.Layers[0].Layer != "l1" {
			t.Fatalf("layers %+v, want L1 only", in.Layers)
		}
		return in.Layers[0]
	}
	if l := layer(inspect(t, g, "/page", nil)); l.Present {
		t.Fatalf("before any request: %+v", l)
	}
	g.get(t, "/page")
	in := inspect(t, g, "/page", nil)
	l := layer(in)
	if in.Tenant != "acme" || in.Key == "" || !l.Present || l.State != "fresh" || l.Status != 200 ||
		l.TTLSeconds < 59 || l.SWRSeconds != 30 || l.SIESeconds != 600 || !slices.Contains(l.Tags, "company:acme") {
		t.Fatalf("fresh: %+v %+v", in, l)
	}
	g.get(t, "/vary", "X-Flavour: sweet")
	sweet := layer(inspect(t, g, "/vary", http.Header{"X-Flavour": {"sweet"}}))
	sour := layer(inspect(t, g, "/vary", http.Header{"X-Flavour": {"sour"}}))
	if !sweet.Present || !slices.Equal(sweet.Vary, []string{"X-Flavour"}) || sweet.VariantKey == "" {
		t.Errorf("the stored variant: %+v", sweet)
	}
	if sour.Present || sour.VariantKey == sweet.VariantKey || len(sour.Vary) != 1 {
		t.Errorf("another variant: %+v", sour)
	}

	if in := inspect(t, g, "/page", http.Header{"Authorization": {"Bearer x"}}); !in.Private || in.Reason == "" || len(in.Layers) != 0 {
		t.Errorf("an authenticated request: %+v", in)
	}

	ctx := context.Background()
	keys, complete, err := g.KeysByTag(ctx, "acme", "company:acme", 10)
	if err != nil || !complete || !slices.Contains(keys, sweet.VariantKey) {
		t.Errorf("KeysByTag: %v %v %v, want the variant %q", keys, complete, err, sweet.VariantKey)
	}
	if keys, complete, _ := g.KeysByTag(ctx, "acme", "company:acme", 1); len(keys) != 1 || complete {
		t.Errorf("KeysByTag with limit 1: %v complete=%v", keys, complete)
	}
	if keys, _, _ := g.KeysByTag(ctx, "berg", "company:acme", 10); len(keys) != 0 {
		t.Errorf("another tenant's keys: %v", keys)
	}
	if err := g.InvalidateTags(ctx, "acme", "company:acme"); err != nil {
		t.Fatal(err)
	}
	if keys, _, _ := g.KeysByTag(ctx, "acme", "company:acme", 10); len(keys) != 0 {
		t.Errorf("keys after the invalidation: %v", keys)
	}

	// The timeline of one entry, on the gateway's clock (last: entries
	// filled after it would look aged by the clock's jump).
	g.get(t, "/page")
	g.advance(70 * time.Second)
	if l := layer(inspect(t, g, "/page", nil)); l.State != "stale-while-revalidate" || l.TTLSeconds > -9 {
		t.Errorf("10s past its lifetime: %+v", l)
	}
	g.advance(60 * time.Second)
	if l := layer(inspect(t, g, "/page", nil)); l.State != "stale-if-error" {
		t.Errorf("past its stale-while-revalidate window: %+v", l)
	}
	g.advance(time.Hour)
	if l := layer(inspect(t, g, "/page", nil)); l.Present && l.State != "expired" {
		t.Errorf("past every window: %+v", l)
	}
}
