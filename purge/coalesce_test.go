package purge

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

func TestPlan(t *testing.T) {
	cf := Limits{TagsPerCall: 2, URLsPerCall: 2, PrefixesPerCall: 2, HostsPerCall: 2, MaxTagLength: 20}
	fastly := Limits{TagsPerCall: 3, URLsPerCall: 1, MaxTagLength: 20}
	hosts := map[string]string{"acme": "acme.example.com", "berg": "berg.example.com"}
	shared := route{zone: "Z", hosts: hosts, limits: cf}
	req := func(tenant string, tags ...string) invalidation.Request {
		return invalidation.Request{ID: "x", Tenant: tenant, Tags: tags}
	}
	tests := []struct {
		name     string
		reqs     []invalidation.Request
		r        route
		want     []planned
		rejected map[int]string // substring of the reason
	}{
		{
			// Each tag is followed by its fallback bucket (tagging.CDNPurgeTags).
			name: "dedup across requests, split at the limit, tenant-prefixed",
			reqs: []invalidation.Request{req("acme", "a", "b"), req("acme", "b", "c")},
			r:    shared,
			want: []planned{
				{Batch{Zone: "Z", Tags: []string{"acme:a", "acme:~2c"}}, []int{0}},
				{Batch{Zone: "Z", Tags: []string{"acme:b", "acme:~25"}}, []int{0, 1}},
				{Batch{Zone: "Z", Tags: []string{"acme:c", "acme:~12"}}, []int{1}},
			},
		},
		{
			// A hard purge merged into a soft batch would lose its guarantee.
			name: "soft and hard requests are batched apart",
			reqs: []invalidation.Request{
				{ID: "x", Tenant: "acme", Tags: []string{"p8"}, Soft: true},
				req("acme", "p8"),
			},
			r: route{zone: "Z", limits: fastly},
			want: []planned{
				{Batch{Zone: "Z", Tags: []string{"acme:p8", "acme:~35"}}, []int{1}},
				{Batch{Zone: "Z", Tags: []string{"acme:p8", "acme:~35"}, Soft: true}, []int{0}},
			},
		},
		{
			name: "tags in one bucket purge it once",
			reqs: []invalidation.Request{req("acme", "p8"), req("acme", "p20")},
			r:    route{zone: "Z", limits: fastly},
			want: []planned{
				{Batch{Zone: "Z", Tags: []string{"acme:p8", "acme:~35", "acme:p20"}}, []int{0, 1}},
			},
		},
		{
			name: "tenants share a zone but not tags",
			reqs: []invalidation.Request{req("acme", "a"), req("berg", "a")},
			r:    shared,
			want: []planned{
				{Batch{Zone: "Z", Tags: []string{"acme:a", "acme:~2c"}}, []int{0}},
				{Batch{Zone: "Z", Tags: []string{"berg:a", "berg:~2c"}}, []int{1}},
			},
		},
		{
			name: "zone per tenant",
			reqs: []invalidation.Request{req("acme", "a"), req("berg", "a")},
			r:    route{zone: "Z", zones: map[string]string{"berg": "ZB"}, hosts: hosts, limits: cf},
			want: []planned{
				{Batch{Zone: "Z", Tags: []string{"acme:a", "acme:~2c"}}, []int{0}},
				{Batch{Zone: "ZB", Tags: []string{"berg:a", "berg:~2c"}}, []int{1}},
			},
		},
		{
			name: "urls and prefixes made absolute, one kind per batch",
			reqs: []invalidation.Request{{Tenant: "acme", URLs: []string{"/x?p=1"}, Prefixes: []string{"/docs"}}},
			r:    shared,
			want: []planned{
				{Batch{Zone: "Z", URLs: []string{"https://acme.example.com/x?p=1"}}, []int{0}},
				{Batch{Zone: "Z", Prefixes: []string{"acme.example.com/docs"}}, []int{0}},
			},
		},
		{
			name: "provider without url or prefix purge gets the implicit tags",
			reqs: []invalidation.Request{{Tenant: "acme", Prefixes: []string{"/d/"}}},
			r:    route{zone: "S", hosts: hosts, limits: fastly},
			want: []planned{{Batch{Zone: "S", Tags: []string{"acme:path:/d"}}, []int{0}}},
		},
		{
			name: "everything in a shared zone purges the tenant's host, never the zone",
			reqs: []invalidation.Request{{Tenant: "acme", Everything: true}},
			r:    shared,
			want: []planned{{Batch{Zone: "Z", Hosts: []string{"acme.example.com"}}, []int{0}}},
		},
		{
			name: "everything in a shared zone without host purge is the tenant's path:/ tag",
			reqs: []invalidation.Request{{Tenant: "acme", Everything: true}},
			r:    route{zone: "S", limits: fastly},
			want: []planned{{Batch{Zone: "S", Tags: []string{"acme:path:/"}}, []int{0}}},
		},
		{
			name: "everything in the tenant's own zone purges the zone",
			reqs: []invalidation.Request{{Tenant: "acme", Everything: true}},
			r:    route{zones: map[string]string{"acme": "ZA"}, limits: cf},
			want: []planned{{Batch{Zone: "ZA", Everything: true}, []int{0}}},
		},
		{
			name:     "no zone",
			reqs:     []invalidation.Request{req("acme", "a")},
			r:        route{limits: cf},
			rejected: map[int]string{0: "no zone"},
		},
		{
			name:     "tag too long once prefixed rejects the whole request",
			reqs:     []invalidation.Request{req("acme", "ok", strings.Repeat("t", 16)), req("acme", "fine")},
			r:        shared,
			want:     []planned{{Batch{Zone: "Z", Tags: []string{"acme:fine", "acme:~2d"}}, []int{1}}},
			rejected: map[int]string{0: "longer than"},
		},
		{
			name:     "url without a public host",
			reqs:     []invalidation.Request{{Tenant: "zed", URLs: []string{"/a"}}},
			r:        shared,
			rejected: map[int]string{0: "no public host"},
		},
	}
	// The buckets written above, checked against the emitter's hash so a
	// change there reads as such.
	for tag, bucket := range map[string]string{"a": "~2c", "b": "~25", "c": "~12", "fine": "~2d", "p8": "~35", "p20": "~35"} {
		if got := tagging.FallbackTag(tag); got != bucket {
			t.Fatalf("FallbackTag(%q) = %q, the table says %q", tag, got, bucket)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := plan(tt.reqs, tt.r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("batches:\n got %+v\nwant %+v", got, tt.want)
			}
			if len(rejected) != len(tt.rejected) {
				t.Fatalf("rejected %v, want %v", rejected, tt.rejected)
			}
			for i, sub := range tt.rejected {
				if !strings.Contains(rejected[i], sub) {
					t.Errorf("rejected[%d] = %q, want it to say %q", i, rejected[i], sub)
				}
			}
		})
	}
}

func TestPlanTenThousandTags(t *testing.T) {
	reqs := make([]invalidation.Request, 1000)
	for i := range reqs {
		tags := make([]string, 10)
		for k := range tags {
			tags[k] = "t" + strings.Repeat("x", k) + string(rune('a'+i%26)) + time.Duration(i).String()
		}
		reqs[i] = invalidation.Request{ID: "x", Tenant: "acme", Tags: tags}
	}
	got, _ := plan(reqs, route{zone: "Z", limits: Limits{TagsPerCall: 100}})
	// Every tag also purges its fallback bucket; a tenant has 64 buckets,
	// so 10,000 tags name at most 10,064 CDN tags: 101 calls, not 100.
	sent, buckets := map[string]bool{}, map[string]bool{}
	for _, p := range got {
		if len(p.batch.Tags) > 100 {
			t.Fatalf("a batch of %d tags", len(p.batch.Tags))
		}
		for _, tag := range p.batch.Tags {
			if sent[tag] {
				t.Fatalf("%q sent twice", tag)
			}
			sent[tag] = true
			if strings.HasPrefix(tag, "acme:"+tagging.FallbackTagPrefix) {
				buckets[tag] = true
			}
		}
	}
	if len(buckets) > tagging.FallbackBuckets {
		t.Errorf("%d bucket tags, a tenant has %d", len(buckets), tagging.FallbackBuckets)
	}
	if want := (10000 + len(buckets) + 99) / 100; len(got) != want || want > 101 {
		t.Fatalf("%d batches for 10,000 distinct tags and %d buckets at 100 per call, want %d", len(got), len(buckets), want)
	}
	for _, r := range reqs {
		for _, tag := range r.Tags {
			if !sent["acme:"+tag] || !sent["acme:"+tagging.FallbackTag(tag)] {
				t.Fatalf("tag %q or its bucket not sent", tag)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	base, maxWait := 100*time.Millisecond, time.Second
	for attempt := 1; attempt < 10; attempt++ {
		full := min(base<<(attempt-1), maxWait)
		for range 50 {
			if d := backoff(base, maxWait, attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

func TestRateLimitPlans(t *testing.T) {
	tests := []struct {
		r      RateLimit
		rate   float64
		burst  int
		ok     bool
		badCfg bool
	}{
		{RateLimit{Plan: "free"}, 5.0 / 60, 25, true, false},
		{RateLimit{Plan: "pro"}, 5, 25, true, false},
		{RateLimit{Plan: "business"}, 10, 50, true, false},
		{RateLimit{Plan: "enterprise"}, 50, 500, true, false},
		{RateLimit{Plan: "pro", Burst: 3}, 5, 3, true, false},
		{RateLimit{PerSecond: 2}, 2, 1, true, false},
		{RateLimit{}, 0, 0, false, false},
		{RateLimit{Plan: "gold"}, 0, 0, false, true},
		{RateLimit{PerSecond: -1}, 0, 0, false, true},
	}
	for _, tt := range tests {
		if err := tt.r.Validate(); (err != nil) != tt.badCfg {
			t.Errorf("%+v: Validate() = %v", tt.r, err)
		}
		if tt.badCfg {
			continue
		}
		rate, burst, ok := tt.r.effective()
		if rate != tt.rate || burst != tt.burst || ok != tt.ok {
			t.Errorf("%+v: effective() = %v, %d, %v; want %v, %d, %v", tt.r, rate, burst, ok, tt.rate, tt.burst, tt.ok)
		}
	}
}

func FuzzKeyToken(f *testing.F) {
	for _, s := range []string{"abc", "evt-1_2", "a.b", "=x", "ü", "a b/c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok := keyToken(id)
		if id != "" {
			for i := 0; i < len(tok); i++ {
				c := tok[i]
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=') {
					t.Fatalf("keyToken(%q) = %q has %q", id, tok, c)
				}
			}
		}
		back, err := idFromToken(tok)
		if err != nil || back != id {
			t.Fatalf("idFromToken(keyToken(%q)) = %q, %v", id, back, err)
		}
	})
}
