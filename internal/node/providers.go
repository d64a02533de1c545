package node

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare"
	"github.com/cachegate/cachegate/purge/fastly"
	"github.com/cachegate/cachegate/purge/varnish"
)

// cloudflareFreeURLsPerCall is the Free plan's lower URL limit per call.
const cloudflareFreeURLsPerCall = 30

// buildProviders turns the file's CDN section into purge providers; none
// when no CDN is configured.
func buildProviders(f *config.File, logger *slog.Logger, reg prometheus.Registerer) ([]purge.Provider, error) {
	client := &http.Client{}
	switch f.CDN.Provider {
	case "", config.ProviderNone, "akamai":
		// Akamai selects only the tag header format; there is no purger.
		return nil, nil
	case "cloudflare":
		c := f.CDN.Cloudflare
		var limits purge.Limits
		if c.Plan == "free" {
			limits.URLsPerCall = cloudflareFreeURLsPerCall
		}
		p, err := cloudflare.New(cloudflare.Config{
			APIToken: string(c.APIToken), BaseURL: c.BaseURL, HTTPClient: client,
			Limits: limits, Logger: logger.With("provider", "cloudflare"),
		})
		if err != nil {
			return nil, fmt.Errorf("cloudflare: %w", err)
		}
		return []purge.Provider{{Purger: p, Zone: c.Zone, Zones: c.Zones, Rate: purge.RateLimit{Plan: planOr(c.Plan)}}}, nil
	case "fastly":
		c := f.CDN.Fastly
		p, err := fastly.New(fastly.Config{
			APIToken: string(c.APIToken), BaseURL: c.BaseURL, HTTPClient: client,
			Logger: logger.With("provider", "fastly"),
		})
		if err != nil {
			return nil, fmt.Errorf("fastly: %w", err)
		}
		return []purge.Provider{{Purger: p, Zone: c.ServiceID, Zones: c.Services, Soft: c.SoftPurge}}, nil
	case "varnish":
		c := f.CDN.Varnish
		p, err := varnish.New(varnish.Config{
			URLs: c.URLs, Soft: c.Soft, Timeout: c.Timeout,
			Logger: logger.With("provider", "varnish"), Registerer: reg,
		})
		if err != nil {
			return nil, fmt.Errorf("varnish: %w", err)
		}
		// Varnish nodes are the zone: one shared cache for every tenant.
		return []purge.Provider{{Purger: p, Zone: "varnish", Soft: c.Soft}}, nil
	default:
		return nil, fmt.Errorf("unknown CDN provider %q", f.CDN.Provider)
	}
}

// planOr defaults the Cloudflare plan to the most generous documented
// bucket: a configured plan is the operator's to state.
func planOr(p string) string {
	if p == "" {
		return "enterprise"
	}
	return p
}
