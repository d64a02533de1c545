package node

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/tagging"
)

const testZone = "0123456789abcdef0123456789abcdef"

// TestProvidersFromConfig: one purge provider per configured provider with
// a purger, in file order, and one tag header per configured provider.
func TestProvidersFromConfig(t *testing.T) {
	cf := config.Cloudflare{APIToken: "t", Zone: testZone, Plan: "pro"}
	vn := config.Varnish{URLs: []string{"http://127.0.0.1:6081"}}
	fs := config.Fastly{APIToken: "t", ServiceID: "svc", SoftPurge: true}
	tests := []struct {
		name      string
		cdn       config.CDN
		purgers   []string
		tagHeader []string
		after     map[string][]string // provider → its After; others none
	}{
		{"none", config.CDN{}, nil, nil, nil},
		{"none spelled out", config.CDN{Provider: "none"}, nil, nil, nil},
		{"one", config.CDN{Provider: "cloudflare", Cloudflare: cf}, []string{"cloudflare"}, []string{"Cache-Tag"}, nil},
		{"akamai has tags, no purger", config.CDN{Provider: "akamai"}, nil, []string{"Edge-Cache-Tag"}, nil},
		{"cloudflare above varnish", config.CDN{Providers: []string{"cloudflare", "varnish"}, Cloudflare: cf, Varnish: vn},
			[]string{"cloudflare", "varnish"}, []string{"Cache-Tag", "Xkey"}, map[string][]string{"cloudflare": {"varnish"}}},
		{"fastly above varnish", config.CDN{Providers: []string{"fastly", "varnish"}, Fastly: fs, Varnish: vn},
			[]string{"fastly", "varnish"}, []string{"Surrogate-Key", "Xkey"}, map[string][]string{"fastly": {"varnish"}}},
		{"cloudflare and fastly", config.CDN{Providers: []string{"cloudflare", "fastly"}, Cloudflare: cf, Fastly: fs},
			[]string{"cloudflare", "fastly"}, []string{"Cache-Tag", "Surrogate-Key"}, nil},
		{"all", config.CDN{Providers: []string{"varnish", "akamai", "fastly", "cloudflare"}, Cloudflare: cf, Varnish: vn, Fastly: fs},
			[]string{"varnish", "fastly", "cloudflare"}, []string{"Xkey", "Edge-Cache-Tag", "Surrogate-Key", "Cache-Tag"},
			map[string][]string{"cloudflare": {"varnish"}, "fastly": {"varnish"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &config.File{Origin: "http://127.0.0.1:1", CDN: tt.cdn}
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			ps, err := buildProviders(f, slog.New(slog.DiscardHandler), reg)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range ps {
				names = append(names, p.Purger.Name())
				if want := tt.after[p.Purger.Name()]; !slices.Equal(p.After, want) {
					t.Errorf("%s After %q, want %q", p.Purger.Name(), p.After, want)
				}
				switch p.Purger.Name() {
				case "cloudflare":
					if p.Zone != testZone || p.Rate.Plan != "pro" {
						t.Errorf("cloudflare provider %+v", p)
					}
				case "fastly":
					if p.Zone != "svc" || !p.Soft {
						t.Errorf("fastly provider %+v", p)
					}
				case "varnish":
					if p.Zone == "" {
						t.Errorf("varnish provider without a zone: every purge would fail")
					}
				}
			}
			if !slices.Equal(names, tt.purgers) {
				t.Errorf("purgers %q, want %q", names, tt.purgers)
			}
			if len(ps) > 0 {
				if err := (purge.DispatcherConfig{Providers: ps}).Validate(); err != nil {
					t.Errorf("the providers do not make a valid dispatcher config: %v", err)
				}
			}

			em, err := tagEmitter(f, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tagHeader == nil {
				if em != nil {
					t.Errorf("a tag emitter without a CDN: %#v", em)
				}
				return
			}
			h := http.Header{}
			em.Emit(h, "acme", []string{"company:acme"})
			for _, k := range tagging.TagHeaders() {
				want := slices.Contains(tt.tagHeader, k)
				if got := h.Get(k) != ""; got != want {
					t.Errorf("%s set: %v, want %v (headers %v)", k, got, want, h)
				}
			}
		})
	}
}
