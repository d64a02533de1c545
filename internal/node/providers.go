package node

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare"
	"github.com/cachegate/cachegate/purge/fastly"
	"github.com/cachegate/cachegate/purge/varnish"
	"github.com/cachegate/cachegate/tagging"
)

// buildProviders turns the file's CDN section into purge providers, one
// per configured provider that has a purger, in file order; none when no
// CDN is configured.
func buildProviders(f *config.File, logger *slog.Logger, reg prometheus.Registerer) ([]purge.Provider, error) {
	client := &http.Client{}
	var out []purge.Provider
	for _, name := range f.CDN.ProviderNames() {
		p, ok, err := buildProvider(f, name, client, logger, reg)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	orderLayers(out)
	return out, nil
}

// orderLayers makes the CDNs wait for Varnish: Varnish sits between the
// gateway and the CDN, so a CDN purged before it could refill from its
// stale copy and keep that for the CDN's max-age. The gateway's own L1 and
// L2 are dropped before the coordinator enqueues the CDN purge.
func orderLayers(ps []purge.Provider) {
	hasVarnish := false
	for _, p := range ps {
		hasVarnish = hasVarnish || p.Purger.Name() == config.ProviderVarnish
	}
	if !hasVarnish {
		return
	}
	for i, p := range ps {
		switch p.Purger.Name() {
		case config.ProviderCloudflare, config.ProviderFastly:
			ps[i].After = []string{config.ProviderVarnish}
		}
	}
}

// buildProvider builds one provider from its purger's config
// (config.CDN.Purgers) and targets (config.CDN.Target); ok is false for a
// provider with no purger (Akamai selects only the tag header format).
func buildProvider(f *config.File, name string, client *http.Client, logger *slog.Logger, reg prometheus.Registerer) (purge.Provider, bool, error) {
	ps, pv := f.CDN.Purgers(), f.CDN.Target(name)
	var err error
	switch name {
	case config.ProviderAkamai:
		return purge.Provider{}, false, nil
	case config.ProviderCloudflare:
		pc := *ps.Cloudflare
		pc.HTTPClient, pc.Logger = client, logger.With("provider", "cloudflare")
		pv.Purger, err = cloudflare.New(pc)
	case config.ProviderFastly:
		pc := *ps.Fastly
		pc.HTTPClient, pc.Logger = client, logger.With("provider", "fastly")
		pv.Purger, err = fastly.New(pc)
	case config.ProviderVarnish:
		pc := *ps.Varnish
		pc.Logger, pc.Registerer = logger.With("provider", "varnish"), reg
		pv.Purger, err = varnish.New(pc)
	default:
		return purge.Provider{}, false, fmt.Errorf("unknown CDN provider %q", name)
	}
	if err != nil {
		return purge.Provider{}, false, err
	}
	return pv, true, nil
}

// tagEmitter writes each configured provider's tag header on public
// responses (Varnish's xkey and the CDN's Cache-Tag on the same response,
// when Varnish sits between the gateway and the CDN); nil without a CDN.
func tagEmitter(f *config.File, logger *slog.Logger, reg prometheus.Registerer) (gateway.TagEmitter, error) {
	names := f.CDN.ProviderNames()
	if len(names) == 0 {
		return nil, nil
	}
	em, err := tagging.NewEmitters(names, logger, reg)
	if err != nil {
		return nil, fmt.Errorf("CDN tag header: %w", err)
	}
	return em, nil
}
