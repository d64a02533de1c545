package tagging

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestTagEmittersSeveralFormats: one response carries each provider's
// header, each within its own limits, with the origin's tag headers gone;
// a tag that overflowed one format's header is still reachable there
// through its bucket while the roomier format keeps it by name.
func TestTagEmittersSeveralFormats(t *testing.T) {
	var many []string
	for i := range 1200 {
		many = append(many, fmt.Sprintf("product:%d", i))
	}
	tests := []struct {
		name      string
		providers []string
		tags      []string
	}{
		{"varnish and cloudflare, fitting", []string{ProviderVarnish, ProviderCloudflare}, []string{"company:acme", "company", "gallery:acme"}},
		{"varnish and cloudflare, over varnish's 8 KB", []string{ProviderVarnish, ProviderCloudflare}, many},
		{"all four", []string{ProviderCloudflare, ProviderFastly, ProviderAkamai, ProviderVarnish}, many[:300]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			es, err := NewEmitters(tt.providers, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{"Surrogate-Key": {"origin"}, "Cache-Tag": {"origin"}, "Xkey": {"origin"}}
			es.Emit(h, "acme", tt.tags)
			var fell uint64
			for _, e := range es {
				f := e.Format()
				got := parseEmitted(h, f)
				if len(h[f.Header]) != 1 || slices.Contains(got, "origin") {
					t.Fatalf("%s: header %q", f.Provider, h[f.Header])
				}
				if f.MaxHeaderBytes > 0 && len(h.Get(f.Header)) > f.MaxHeaderBytes {
					t.Errorf("%s: %d bytes > %d", f.Provider, len(h.Get(f.Header)), f.MaxHeaderBytes)
				}
				if f.MaxTags > 0 && len(got) > f.MaxTags {
					t.Errorf("%s: %d tags > %d", f.Provider, len(got), f.MaxTags)
				}
				for _, tag := range tt.tags {
					if !slices.ContainsFunc(CDNPurgeTags("acme", []string{tag}), func(n string) bool { return slices.Contains(got, n) }) {
						t.Fatalf("%s: a purge of %q reaches nothing the response carries", f.Provider, tag)
					}
				}
				fell += e.Stats().FallbackTags
			}
			if h.Get("Surrogate-Key") == "origin" {
				t.Error("origin's Surrogate-Key kept")
			}
			if s := es.Stats(); s.FallbackTags != fell {
				t.Errorf("Stats() = %+v, emitters' sum %d", s, fell)
			}
		})
	}
}

// TestTagEmittersOverflowIsPerFormat: Akamai's 128-tag limit falls back
// to buckets where Cloudflare's header keeps every tag by name.
func TestTagEmittersOverflowIsPerFormat(t *testing.T) {
	var many []string
	for i := range 200 {
		many = append(many, fmt.Sprintf("product:%d", i))
	}
	es, err := NewEmitters([]string{ProviderAkamai, ProviderCloudflare}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	es.Emit(h, "acme", many)
	if v := h.Get("Edge-Cache-Tag"); !strings.Contains(v, "acme:"+FallbackTagPrefix) {
		t.Errorf("Edge-Cache-Tag has no fallback bucket")
	}
	if v := h.Get("Cache-Tag"); strings.Contains(v, FallbackTagPrefix) || len(strings.Split(v, ",")) != len(many) {
		t.Errorf("Cache-Tag lost tags it had room for")
	}
	if s := es[0].Stats(); s.FallbackTags == 0 {
		t.Errorf("akamai stats %+v", s)
	}
	if s := es[1].Stats(); s.FallbackTags != 0 {
		t.Errorf("cloudflare stats %+v", s)
	}
}

// TestTagEmittersBehindVarnish: every tag header passes through Varnish,
// which fails a fetch whose response header is over its 8 KB; so with
// Varnish configured, Cloudflare's header is kept within Varnish's bound
// too (and falls back to buckets past it), while alone it may use 16 KB.
func TestTagEmittersBehindVarnish(t *testing.T) {
	var many []string
	for i := range 700 { // ~12 KB
		many = append(many, fmt.Sprintf("product:%d", i))
	}
	v, _ := FormatFor(ProviderVarnish)
	tests := []struct {
		providers []string
		maxBytes  int
		fallback  bool
	}{
		{[]string{ProviderCloudflare}, 16 * 1024, false},
		{[]string{ProviderCloudflare, ProviderVarnish}, v.MaxHeaderBytes, true},
		{[]string{ProviderVarnish, ProviderFastly, ProviderAkamai}, v.MaxHeaderBytes, true},
	}
	for _, tt := range tests {
		es, err := NewEmitters(tt.providers, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		es.Emit(h, "acme", many)
		for _, e := range es {
			f := e.Format()
			if f.MaxHeaderBytes > tt.maxBytes {
				t.Errorf("%v: %s may use %d bytes, over %d", tt.providers, f.Header, f.MaxHeaderBytes, tt.maxBytes)
			}
			val := h.Get(f.Header)
			if len(val) > tt.maxBytes {
				t.Errorf("%v: %s of %d bytes", tt.providers, f.Header, len(val))
			}
			if got := strings.Contains(val, FallbackTagPrefix); got != tt.fallback && f.Provider != ProviderAkamai {
				t.Errorf("%v: %s has fallback buckets: %v, want %v", tt.providers, f.Header, got, tt.fallback)
			}
		}
	}
}

func TestNewTagEmittersErrors(t *testing.T) {
	tests := []struct {
		name      string
		providers []string
		want      string
	}{
		{"unknown", []string{ProviderVarnish, "cloudfront"}, "unknown CDN provider"},
		{"same header twice", []string{ProviderVarnish, ProviderVarnish}, "both write Xkey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewEmitters(tt.providers, nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewEmitters(%q) = %v, want %q", tt.providers, err, tt.want)
			}
		})
	}
	// Counters of several providers live side by side on one registry.
	if _, err := NewEmitters([]string{ProviderCloudflare, ProviderVarnish}, nil, prometheus.NewRegistry()); err != nil {
		t.Errorf("two providers on one registry: %v", err)
	}
}

func BenchmarkTagEmittersTwoFormats(b *testing.B) {
	es, err := NewEmitters([]string{ProviderVarnish, ProviderCloudflare}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	tags := []string{"company:acme", "company", "gallery:acme", "product:1", "product:2"}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		es.Emit(h, "acme", tags)
	}
}
