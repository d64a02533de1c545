package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/tagging"
)

const (
	zoneA = "0123456789abcdef0123456789abcdef"
	cfOK  = "  cloudflare: {api_token: \"${CF}\", zone: " + zoneA + "}\n"
	vnOK  = "  varnish: {urls: [\"http://127.0.0.1:6081\"]}\n"
	fsOK  = "  fastly: {api_token: \"${FS}\", service_id: svc}\n"
)

// TestCDNProviders: the one-provider and the list spelling give the same
// providers; the list keeps file order; the CDN directives header follows.
func TestCDNProviders(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		want   []string
		header string
	}{
		{"absent", "", nil, policy.DefaultCDNHeader},
		{"none", "cdn:\n  provider: none\n", nil, policy.DefaultCDNHeader},
		{"empty list", "cdn:\n  providers: []\n", nil, policy.DefaultCDNHeader},
		{"one", "cdn:\n  provider: cloudflare\n" + cfOK, []string{"cloudflare"}, tagging.HeaderCloudflareCacheControl},
		{"list of one", "cdn:\n  providers: [varnish]\n" + vnOK, []string{"varnish"}, policy.DefaultCDNHeader},
		{"single scalar as list", "cdn:\n  providers: fastly\n" + fsOK, []string{"fastly"}, tagging.HeaderSurrogateControl},
		// Varnish reads Cache-Control; the CDN above it gets its own header.
		{"cloudflare behind varnish", "cdn:\n  providers: [cloudflare, varnish]\n" + cfOK + vnOK, []string{"cloudflare", "varnish"}, tagging.HeaderCloudflareCacheControl},
		{"order kept", "cdn:\n  providers: [varnish, fastly]\n" + vnOK + fsOK, []string{"varnish", "fastly"}, tagging.HeaderSurrogateControl},
		// Two CDNs with different headers: the standard one, read by both.
		{"two CDNs", "cdn:\n  providers: [cloudflare, fastly]\n" + cfOK + fsOK, []string{"cloudflare", "fastly"}, policy.DefaultCDNHeader},
		{"akamai tags only", "cdn:\n  providers: [akamai, varnish]\n" + vnOK, []string{"akamai", "varnish"}, policy.DefaultCDNHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.yaml", []byte(tt.src), env("CF", "cf-token", "FS", "fs-token"))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.CDN.ProviderNames(); !slices.Equal(got, tt.want) {
				t.Errorf("ProviderNames() = %q, want %q", got, tt.want)
			}
			for _, p := range tt.want {
				if !f.CDN.Has(p) {
					t.Errorf("Has(%q) = false", p)
				}
			}
			if f.CDN.Has(ProviderNone) {
				t.Error(`Has("none") = true`)
			}
			if got := f.CDNHeader(); got != tt.header {
				t.Errorf("CDNHeader() = %q, want %q", got, tt.header)
			}
			f.Origin = "http://127.0.0.1:1"
			if err := f.Validate(); err != nil {
				t.Errorf("Validate = %v", err)
			}
		})
	}
}

// TestCDNProviderErrors: each problem of the provider list at its line, as
// check-config prints it.
func TestCDNProviderErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "LINE: substring", in order
	}{
		{"unknown in list", "cdn:\n  providers:\n    - varnish\n    - cloudflair\n" + vnOK,
			[]string{`4: cdn.providers: unknown provider "cloudflair" (cloudflare, fastly, akamai, varnish); did you mean "cloudflare"?`}},
		{"duplicate", "cdn:\n  providers:\n    - varnish\n    - varnish\n" + vnOK,
			[]string{`4: cdn.providers: "varnish" is listed twice`}},
		{"none in list", "cdn:\n  providers: [none]\n", []string{`2: cdn.providers: "none" cannot be listed`}},
		{"both spellings", "cdn:\n  provider: varnish\n  providers: [varnish]\n" + vnOK,
			[]string{"3: cdn: set provider (one) or providers (a list), not both"}},
		{"not a list", "cdn:\n  providers: {a: b}\n", []string{"2: cdn.providers must be a list"}},
		{"missing credentials on the item's line", "cdn:\n  providers:\n    - varnish\n    - cloudflare\n  cloudflare: {zone: " + zoneA + "}\n" + vnOK,
			[]string{"4: cdn.cloudflare.api_token: an API token with the Cache Purge permission is required"}},
		{"missing token and service", "cdn:\n  providers: [fastly]\n",
			[]string{"2: cdn.providers: fastly needs cdn.fastly.service_id or cdn.fastly.services", "2: cdn.fastly.api_token: an API token"}},
		{"missing token, one provider", "cdn:\n  provider: cloudflare\n  cloudflare: {zone: " + zoneA + "}\n",
			[]string{"2: cdn.cloudflare.api_token: an API token"}},
		{"varnish without urls", "cdn:\n  providers: [cloudflare, varnish]\n" + cfOK,
			[]string{"2: cdn.varnish.urls: no node URLs"}},
		{"section not listed", "cdn:\n  providers: [varnish]\n" + vnOK + "  fastly:\n    service_id: x\n",
			[]string{`4: cdn.fastly is configured but cdn.providers is [varnish]`}},
		{"section with empty list", "cdn:\n  providers: []\n" + vnOK,
			[]string{`3: cdn.varnish is configured but cdn.providers is []`}},
		{"misplaced", "providers: [varnish]\n", []string{`1: config: unknown key "providers" (providers belongs under cdn:)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.yaml", []byte(tt.src), env("CF", "cf-token"))
			var es Errors
			if !errors.As(err, &es) || f != nil {
				t.Fatalf("Parse = %v, %v; want Errors", f, err)
			}
			lines := strings.Split(err.Error(), "\n")
			i := 0
			for _, w := range tt.want {
				found := false
				for ; i < len(lines) && !found; i++ {
					found = strings.HasPrefix(lines[i], "bad.yaml:"+w)
				}
				if !found {
					t.Errorf("want %q in order, got:\n%s", w, err)
				}
			}
			if len(lines) != len(tt.want) {
				t.Errorf("%d errors, want %d:\n%s", len(lines), len(tt.want), err)
			}
		})
	}
}

// TestValidateProviders: a File built or changed in code is checked the
// same way, without lines.
func TestValidateProviders(t *testing.T) {
	tests := []struct {
		name string
		cdn  CDN
		want []string
	}{
		{"ok", CDN{Providers: []string{"varnish"}, Varnish: Varnish{URLs: []string{"http://v:1"}}}, nil},
		{"both", CDN{Provider: "varnish", Providers: []string{"varnish"}, Varnish: Varnish{URLs: []string{"http://v:1"}}}, []string{"not both"}},
		{"duplicate", CDN{Providers: []string{"akamai", "akamai"}}, []string{`"akamai" is listed twice`}},
		{"unknown", CDN{Providers: []string{"akamai", "nope"}}, []string{`unknown provider "nope"`}},
		{"credentials", CDN{Providers: []string{"cloudflare", "fastly"}, Cloudflare: Cloudflare{Zone: zoneA}, Fastly: Fastly{ServiceID: "s"}},
			[]string{"cdn.cloudflare.api_token: an API token", "cdn.fastly.api_token: an API token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &File{Origin: "http://127.0.0.1:1", CDN: tt.cdn}
			err := f.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want %q", err, w)
				}
			}
		})
	}
}

// TestSecretsNeverPrintInProviderErrors: a token read from the
// environment never appears in an error about the provider list.
func TestSecretsNeverPrintInProviderErrors(t *testing.T) {
	_, err := Parse("x.yaml", []byte("cdn:\n  providers: [cloudflare, cloudflare]\n  cloudflare: {api_token: \"${CF}\"}\n"), env("CF", "sekrit-token"))
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("Parse = %v", err)
	}
}
