package node

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/tagging"
)

// TestCDNFactsAgree: every reader of a provider's facts (the tag header
// the gateway writes, the config's names and default CDN header, the purge
// provider the assembly builds, the Cloudflare plans) agrees with cdn, so
// that a tag written on a response is one the provider's purger can purge.
func TestCDNFactsAgree(t *testing.T) {
	if got, want := config.Providers(), append([]string{cdn.None}, cdn.Names()...); !slices.Equal(got, want) {
		t.Errorf("config.Providers() = %q, want %q", got, want)
	}
	sections := config.CDN{
		Cloudflare: config.Cloudflare{APIToken: "t", Zone: testZone},
		Fastly:     config.Fastly{APIToken: "t", ServiceID: "svc"},
		Varnish:    config.Varnish{URLs: []string{"http://127.0.0.1:6081"}},
	}
	for _, name := range cdn.Names() {
		t.Run(name, func(t *testing.T) {
			facts, err := cdn.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			format, err := tagging.FormatFor(name)
			if err != nil {
				t.Fatal(err)
			}
			if format.Header != facts.TagHeader || format.Sep != facts.TagSep || format.MaxHeaderBytes != facts.MaxTagHeaderBytes ||
				format.MaxTagBytes != facts.MaxTagBytes || format.MaxTags != facts.MaxTags || !slices.Equal(format.NoStoreHeaders, facts.NoStoreHeaders) {
				t.Errorf("tagging.FormatFor = %+v, cdn = %+v", format, facts)
			}
			c := sections
			c.Provider = name
			f := &config.File{Origin: "http://127.0.0.1:1", CDN: c}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			if want := cmpOr(facts.CacheControlHeader, policy.DefaultCDNHeader); f.CDNHeader() != want {
				t.Errorf("config's CDN header %q, cdn says %q", f.CDNHeader(), want)
			}
			ps, err := buildProviders(f, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ps) == 1; got != facts.Purges {
				t.Fatalf("%d purge providers built; cdn says Purges=%v", len(ps), facts.Purges)
			}
			if len(ps) == 1 {
				// The longest tag the header may carry must be purgeable.
				if lim := ps[0].Purger.Limits(); lim.MaxTagLength < facts.MaxTagBytes {
					t.Errorf("purger takes tags of up to %d bytes; the tag header carries up to %d", lim.MaxTagLength, facts.MaxTagBytes)
				}
			}
		})
	}
}

// TestCloudflarePlansAgree: each plan cdn knows is accepted by the config
// and the rate limiter, and the assembly applies its URL limit.
func TestCloudflarePlansAgree(t *testing.T) {
	for _, name := range cdn.PlanNames() {
		plan, _ := cdn.CloudflarePlan(name)
		src := fmt.Sprintf("cdn:\n  provider: cloudflare\n  cloudflare: {api_token: t, zone: %s, plan: %s}\n", testZone, name)
		f, err := config.Parse("c.yaml", []byte(src), nil)
		if err != nil {
			t.Fatalf("plan %s: %v", name, err)
		}
		f.Origin = "http://127.0.0.1:1"
		if err := (purge.RateLimit{Plan: name}).Validate(); err != nil {
			t.Errorf("plan %s: %v", name, err)
		}
		ps, err := buildProviders(f, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		if got := ps[0].Purger.Limits().URLsPerCall; got != plan.URLsPerCall {
			t.Errorf("plan %s: %d URLs per call, cdn says %d", name, got, plan.URLsPerCall)
		}
		if ps[0].Rate.Plan != name {
			t.Errorf("plan %s: rate plan %q", name, ps[0].Rate.Plan)
		}
	}
}
