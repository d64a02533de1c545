package web

import (
	"context"
	"errors"
	"testing"

	"github.com/cachegate/cachegate/cdnstats"
)

type failingCDN struct{}

func (failingCDN) Name() string { return "cloudflare" }
func (failingCDN) Read(context.Context) (cdnstats.Sample, error) {
	return cdnstats.Sample{}, errors.New("cloudflare analytics: not authorized for that account")
}

func TestCDNStats(t *testing.T) {
	for _, tt := range []struct {
		name       string
		src        CDNStats
		configured bool
		providers  int
		err        string
	}{
		{"none", nil, false, 0, ""},
		{"no sources", cdnstats.NewReader(0), false, 0, ""},
		{"figures", cdnstats.NewReader(0, staticCDN{Sample: cdnstats.Sample{Requests: 4, Hits: 3, HitRatio: 0.75}}), true, 1, ""},
		{"failing", cdnstats.NewReader(0, failingCDN{}), true, 1, "not authorized"},
	} {
		e := newEnv(t, func(c *Config) { c.CDNStats = tt.src })
		code, _, b := e.do(t, "GET", "/api/v1/cdn/stats", "", bearer(testToken))
		r := decode[CDNStatsResponse](t, b)
		if code != 200 || r.Configured != tt.configured || len(r.Providers) != tt.providers {
			t.Errorf("%s: %d %s", tt.name, code, b)
			continue
		}
		if tt.providers > 0 && (r.Providers[0].Error == "") != (tt.err == "") {
			t.Errorf("%s: provider %+v, want error %q", tt.name, r.Providers[0], tt.err)
		}
	}
}
