package tagging

import (
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/invalidation"
)

func TestParseTags(t *testing.T) {
	tests := []struct {
		name    string
		h       http.Header
		tags    []string
		invalid []string
	}{
		{"none", http.Header{}, nil, nil},
		{"surrogate-key", http.Header{"Surrogate-Key": {"  a  b\tc "}}, []string{"a", "b", "c"}, nil},
		{"cache-tag", http.Header{"Cache-Tag": {" a , b,,c "}}, []string{"a", "b", "c"}, nil},
		{"both dedup", http.Header{"Surrogate-Key": {"a b"}, "Cache-Tag": {"b,c"}}, []string{"a", "b", "c"}, nil},
		{"several lines", http.Header{"Cache-Tag": {"a", "b"}, "Surrogate-Key": {"c", "a"}}, []string{"c", "a", "b"}, nil},
		{"comma inside surrogate-key", http.Header{"Surrogate-Key": {"a,b c"}}, []string{"c"}, []string{"a,b"}},
		{"space inside cache-tag", http.Header{"Cache-Tag": {"a b,c"}}, []string{"c"}, []string{"a b"}},
		{"reserved", http.Header{"Cache-Tag": {"~01,ok"}}, []string{"ok"}, []string{"~01"}},
		{"too long", http.Header{"Cache-Tag": {strings.Repeat("x", 1025) + ",ok"}}, []string{"ok"}, []string{strings.Repeat("x", 1025)}},
		{"non-ascii", http.Header{"Surrogate-Key": {"caf\u00e9 ok"}}, []string{"ok"}, []string{"caf\u00e9"}},
		{"edge and xkey", http.Header{"Edge-Cache-Tag": {"e1,e2"}, "Xkey": {"x1 x2"}}, []string{"e1", "e2", "x1", "x2"}, nil},
	}
	for _, tt := range tests {
		tags, invalid := ParseTagsReport(tt.h)
		if !reflect.DeepEqual(tags, tt.tags) || !reflect.DeepEqual(invalid, tt.invalid) {
			t.Errorf("%s: ParseTagsReport = %q, %q; want %q, %q", tt.name, tags, invalid, tt.tags, tt.invalid)
		}
		if got := ParseTags(tt.h); !reflect.DeepEqual(got, tt.tags) {
			t.Errorf("%s: ParseTags = %q", tt.name, got)
		}
	}
	var many []string
	for i := 0; i < MaxResponseTags+10; i++ {
		many = append(many, fmt.Sprint("t", i))
	}
	// Past MaxResponseTags, tags fall back to their buckets: kept
	// purgeable, not dropped.
	r := ReportTags(http.Header{"Surrogate-Key": {strings.Join(many, " ")}})
	if len(r.Invalid) != 0 || r.FellBack != 10 || !slices.Equal(r.Tags[:MaxResponseTags], many[:MaxResponseTags]) {
		t.Fatalf("over MaxResponseTags: %d kept, %d reported, %d fell back", len(r.Tags), len(r.Invalid), r.FellBack)
	}
	for _, tag := range many[MaxResponseTags:] {
		if !slices.Contains(r.Tags[MaxResponseTags:], FallbackTag(tag)) {
			t.Fatalf("%q past the cap: its bucket %q is not kept", tag, FallbackTag(tag))
		}
	}
	if len(r.Tags) > MaxResponseTags+FallbackBuckets {
		t.Fatalf("%d tags kept", len(r.Tags))
	}
}

// A fallback name falls back to itself: a tag that already fell back in
// the store stays reachable by the purge of its bucket at the CDN.
func TestFallbackOfFallbackIsItself(t *testing.T) {
	for b := range uint(FallbackBuckets) {
		if n := fallbackName(b); FallbackTag(n) != n {
			t.Fatalf("FallbackTag(%q) = %q", n, FallbackTag(n))
		}
	}
	for _, notBucket := range []string{"~", "~0", "~000", "~40", "~zz", "~0A", "x00"} {
		if _, ok := fallbackBucket(notBucket); ok {
			t.Fatalf("%q taken for a bucket", notBucket)
		}
	}
	if got := PurgeTags([]string{"a", "a", "b"}); !slices.Equal(got, []string{"a", FallbackTag("a"), "b", FallbackTag("b")}) &&
		!(FallbackTag("a") == FallbackTag("b") && len(got) == 3) {
		t.Fatalf("PurgeTags = %q", got)
	}
}

func FuzzParseTags(f *testing.F) {
	f.Add("a b c", "x,y, z")
	f.Add("  ", ",,,")
	f.Add("a,b c", "a b,c")
	f.Add("~00 \x00\xff", "caf\u00e9,"+strings.Repeat("q", 1030))
	f.Fuzz(func(t *testing.T, sk, ct string) {
		h := http.Header{"Surrogate-Key": {sk}, "Cache-Tag": {ct}}
		tags, invalid := ParseTagsReport(h)
		seen := map[string]bool{}
		for _, tag := range tags {
			if err := invalidation.ValidateTag(tag); err != nil {
				t.Fatalf("kept invalid tag: %v", err)
			}
			if seen[tag] {
				t.Fatalf("duplicate tag %q", tag)
			}
			seen[tag] = true
		}
		for _, tag := range invalid {
			if seen[tag] {
				t.Fatalf("tag %q both kept and reported", tag)
			}
		}
		// Every emitted tag survives a round trip through every provider's
		// header when it fits.
		for _, p := range []string{ProviderCloudflare, ProviderFastly, ProviderVarnish} {
			e, _ := NewEmitter(EmitterConfig{Provider: p})
			out := http.Header{}
			e.Emit(out, "t", tags)
			if e.Stats().FallbackTags == 0 {
				back := ParseTags(out)
				if len(back) != len(tags) {
					t.Fatalf("%s: round trip %d tags -> %d", p, len(tags), len(back))
				}
			}
		}
	})
}

func parseEmitted(h http.Header, f Format) []string {
	v := h.Get(f.Header)
	if v == "" {
		return nil
	}
	return strings.Split(v, string(f.Sep))
}

func TestEmitFits(t *testing.T) {
	for _, p := range []string{ProviderCloudflare, ProviderFastly, ProviderAkamai, ProviderVarnish} {
		e, err := NewEmitter(EmitterConfig{Provider: p})
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Surrogate-Key": {"origin"}, "Cache-Tag": {"origin"}}
		e.Emit(h, "acme", []string{"company:acme", "gallery:acme", "company:acme"})
		f := e.Format()
		want := []string{"acme:company:acme", "acme:gallery:acme"}
		if got := parseEmitted(h, f); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: emitted %q, want %q", p, got, want)
		}
		for _, k := range TagHeaders() {
			if k != f.Header && h.Get(k) != "" {
				t.Errorf("%s: origin's %s kept", p, k)
			}
		}
		if s := e.Stats(); s != (EmitterStats{}) {
			t.Errorf("%s: stats %+v for a fitting set", p, s)
		}
	}
}

func TestEmitProviderFormats(t *testing.T) {
	tests := []struct {
		provider, header string
		sep              byte
	}{
		{ProviderCloudflare, "Cache-Tag", ','},
		{ProviderFastly, "Surrogate-Key", ' '},
		{ProviderAkamai, "Edge-Cache-Tag", ','},
		{ProviderVarnish, "Xkey", ' '},
	}
	for _, tt := range tests {
		f, err := FormatFor(tt.provider)
		if err != nil || f.Header != tt.header || f.Sep != tt.sep {
			t.Errorf("FormatFor(%q) = %+v, %v", tt.provider, f, err)
		}
	}
	if _, err := FormatFor("cloudfront"); err == nil {
		t.Error("unknown provider accepted")
	}
}

// TestEmitOverBudget: whatever does not fit is replaced by its bucket, the
// result is within every limit, and a purge of any input tag (through
// CDNPurgeTags) names a tag the response carries.
func TestEmitOverBudget(t *testing.T) {
	var many, long []string
	for i := 0; i < 3000; i++ {
		many = append(many, fmt.Sprintf("product:%d", i))
	}
	for i := 0; i < 5; i++ {
		long = append(long, fmt.Sprintf("%d:%s", i, strings.Repeat("x", 1100)))
	}
	mixed := append(append([]string{"company:acme"}, long...), many[:200]...)
	for _, p := range []string{ProviderCloudflare, ProviderFastly, ProviderAkamai, ProviderVarnish} {
		for name, tags := range map[string][]string{"many": many, "long": long, "mixed": mixed} {
			reg := prometheus.NewRegistry()
			e, err := NewEmitter(EmitterConfig{Provider: p, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			e.Emit(h, "acme", tags)
			f := e.Format()
			got := parseEmitted(h, f)
			v := h.Get(f.Header)
			if f.MaxHeaderBytes > 0 && len(v) > f.MaxHeaderBytes {
				t.Errorf("%s/%s: header %d bytes > %d", p, name, len(v), f.MaxHeaderBytes)
			}
			if f.MaxTags > 0 && len(got) > f.MaxTags {
				t.Errorf("%s/%s: %d tags > %d", p, name, len(got), f.MaxTags)
			}
			for _, g := range got {
				if f.MaxTagBytes > 0 && len(g) > f.MaxTagBytes {
					t.Errorf("%s/%s: tag of %d bytes", p, name, len(g))
				}
			}
			for _, tag := range tags {
				purge := CDNPurgeTags("acme", []string{tag})
				if !slices.ContainsFunc(purge, func(n string) bool { return slices.Contains(got, n) }) {
					t.Fatalf("%s/%s: purge of %q (%v) reaches nothing the response carries", p, name, tag, purge)
				}
			}
			s := e.Stats()
			kept := 0
			for _, g := range got {
				if !strings.HasPrefix(g, "acme:"+FallbackTagPrefix) {
					kept++
				}
			}
			if int(s.FallbackTags) != len(tags)-kept || s.FallbackTags == 0 {
				t.Errorf("%s/%s: FallbackTags = %d, %d of %d kept", p, name, s.FallbackTags, kept, len(tags))
			}
			if m := gathered(t, reg, "cachegate_cdn_tag_fallbacks_total"); uint64(m) != s.FallbackTags {
				t.Errorf("%s/%s: metric %v, stats %d", p, name, m, s.FallbackTags)
			}
			if name == "mixed" && got[0] != "acme:company:acme" {
				t.Errorf("%s: first (most specific) tag not kept first: %q", p, got[0])
			}
		}
	}
}

func TestEmitUntaggable(t *testing.T) {
	e, err := NewEmitter(EmitterConfig{Provider: ProviderAkamai})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	tenant := strings.Repeat("t", 126) // "<tenant>:~00" is 130 > 128
	e.Emit(h, tenant, []string{"abc"})
	if h.Get("Edge-Cache-Tag") != "" || h.Get("Edge-Control") != "no-store" || h.Get("CDN-Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if e.Stats().Untaggable != 1 {
		t.Errorf("stats %+v", e.Stats())
	}
}

func TestEmitterMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewEmitter(EmitterConfig{Provider: ProviderFastly, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewEmitter(EmitterConfig{Provider: ProviderFastly, Registerer: reg}); err == nil {
		t.Error("second registration of the same provider's counters accepted")
	}
	if _, err := NewEmitter(EmitterConfig{Provider: "nope"}); err == nil {
		t.Error("unknown provider accepted")
	}
}

func TestFallbackTag(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		b := FallbackTag(fmt.Sprint("tag", i))
		if len(b) != 3 || !strings.HasPrefix(b, FallbackTagPrefix) || invalidation.ValidateTag(b) != nil {
			t.Fatalf("bad bucket %q", b)
		}
		seen[b] = true
	}
	if len(seen) != FallbackBuckets {
		t.Errorf("%d buckets used, want %d", len(seen), FallbackBuckets)
	}
	if got := CDNPurgeTags("acme", []string{"a", "a"}); len(got) != 2 || got[0] != "acme:a" || got[1] != "acme:"+FallbackTag("a") {
		t.Errorf("CDNPurgeTags = %v", got)
	}
}

func TestStripInternalHeaders(t *testing.T) {
	h := http.Header{}
	for _, k := range InternalHeaders() {
		h.Set(k, "x")
	}
	h.Set("Cache-Control", "public")
	StripInternalHeaders(h)
	if len(h) != 1 || h.Get("Cache-Control") != "public" {
		t.Errorf("after strip: %v", h)
	}
}

func BenchmarkEmit(b *testing.B) {
	e, _ := NewEmitter(EmitterConfig{Provider: ProviderFastly})
	tags := []string{"company:acme", "gallery:acme", "url:/", "path:/"}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		e.Emit(h, "acme", tags)
	}
}

func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
