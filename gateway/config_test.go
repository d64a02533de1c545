package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/internal/setting"
)

func TestConfigValidate(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:8081")
	ok := Config{Origin: origin, L1: NewTestStore()}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"minimal", func(*Config) {}, ""},
		{"no origin", func(c *Config) { c.Origin = nil }, "Origin is required"},
		{"bad scheme", func(c *Config) { c.Origin = &url.URL{Scheme: "ftp", Host: "x"} }, "scheme"},
		{"no host", func(c *Config) { c.Origin = &url.URL{Scheme: "http"} }, "no host"},
		{"no L1", func(c *Config) { c.L1 = nil }, "L1 is required"},
		{"negative size", func(c *Config) { c.MaxObjectSize = -1 }, "limits.max_object_size"},
		{"negative header", func(c *Config) { c.MaxHeaderBytes = -1 }, "limits.max_header_bytes"},
		{"negative timeout", func(c *Config) { c.OriginTimeout = -1 }, "must not be negative"},
		{"cache name with space", func(c *Config) { c.CacheName = "my cache" }, "token"},
		{"bad cookie name", func(c *Config) { c.SessionCookies = []string{"a=b"} }, "cookie name"},
		// The policy rejected these and the gateway accepted them.
		{"cookie name not a token", func(c *Config) { c.SessionCookies = []string{"a(b"} }, "cookie name"},
		{"cookie name with a tab", func(c *Config) { c.SessionCookies = []string{"a\tb"} }, "cookie name"},
		{"cache name with a colon", func(c *Config) { c.CacheName = "edge:1" }, "token"},
		{"server header injection", func(c *Config) { s := "a\r\nX-Injected: 1"; c.ServerHeader = &s }, "server_header"},
		{"negative esi timeout", func(c *Config) { c.ESITimeout = -1 }, "esi.timeout"},
		{"esi too deep", func(c *Config) { c.ESIMaxDepth = MaxESIDepth + 1 }, "esi.max_depth"},
		{"l2 admission", func(c *Config) { c.L2Admission = "often" }, "l2.admission"},
		{"warm rate", func(c *Config) { c.Warm.Rate = -1 }, "warm.rate"},
		{"empty server header removes", func(c *Config) { s := ""; c.ServerHeader = &s }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := New(c); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// The settings a config file gives are reported all at once, each named as
// the file spells it, so the loader places every one on its line and keeps
// no rule of its own.
func TestValidateSettingsNamesEachField(t *testing.T) {
	sh := "a\nb"
	c := Config{
		Origin: &url.URL{Scheme: "ftp", Host: "x"}, AccessLogSample: 2, MaxObjectSize: -1, MaxHeaderBytes: -1,
		OriginTimeout: -1, CacheName: "my cache", ServerHeader: &sh,
		TargetedFields: []string{"CDN-Cache-Control", "Cache-Control"},
	}
	var got []string
	for _, e := range setting.All(c.ValidateSettings()) {
		got = append(got, e.Field)
	}
	want := []string{"origin", "log.access_sample", "limits.max_object_size", "limits.max_header_bytes",
		"limits.origin_timeout", "cache_name", "server_header", "cache.targeted_fields[1]"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields %q, want %q", got, want)
	}
	// No L1 and no origin are the assembly's to wire, not settings.
	if err := (Config{}).ValidateSettings(); err != nil {
		t.Fatalf("zero settings: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:8081")
	c := Config{Origin: origin, L1: NewTestStore()}.withDefaults()
	if c.CacheName != "cachegate" || c.MaxObjectSize != 8<<20 || c.Policy == nil || c.Stats == nil ||
		len(c.SessionCookies) != 2 || c.Logger == nil || c.Transport == nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestNewRegistersMetricsOnce(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:8081")
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Origin: origin, L1: NewTestStore(), Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Origin: origin, L1: NewTestStore(), Metrics: reg}); err == nil {
		t.Fatal("a second gateway on the same registerer must fail, not double count")
	}
	if _, err := New(Config{Origin: origin, L1: NewTestStore()}); err != nil {
		t.Fatalf("nil registerer: %v", err)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy{SessionCookies: []string{"sessionid"}}
	tests := []struct {
		host, auth, cookie string
		tenant, reason     string
		bypass             bool
	}{
		{"Acme.Example:8080", "", "", "acme.example", "", false},
		{"berg", "Bearer x", "", "berg", "authorization", false},
		{"berg", "", "sessionid=1", "berg", "cookie:sessionid", false},
		{"berg", "", "theme=dark", "berg", "", false},
		{"[::1]:80", "", "", "_invalid", "", true},
		{"", "", "", "_invalid", "", true},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Host = tt.host
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		if tt.cookie != "" {
			r.Header.Set("Cookie", tt.cookie)
		}
		d := p.Decide(r)
		if d.Tenant != tt.tenant || d.PrivateReason != tt.reason || d.Bypass != tt.bypass || d.Private != (tt.reason != "") {
			t.Errorf("%q: %+v", tt.host, d)
		}
	}
}
