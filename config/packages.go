package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/cdnstats"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/events/natsserver"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memcachestore"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/internal/listeners"
	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare"
	"github.com/cachegate/cachegate/purge/fastly"
	"github.com/cachegate/cachegate/purge/varnish"
)

// This file turns the file's sections into the Configs of the packages
// they configure, and has those packages validate them: a rule about a
// setting lives in the package that uses it, once, and Load only places
// its message on the setting's line (Validate, after overrides, reports
// the same problems without lines).

// Store is the L2's config; the assembly uses it as is.
func (r Redis) Store() redisstore.Config {
	return redisstore.Config{
		URL: string(r.URL), Addrs: r.Addrs, MasterName: r.MasterName,
		Username: r.Username, Password: string(r.Password), DB: r.DB,
		TLS: r.TLS, Prefix: r.KeyPrefix,
	}
}

// Listeners is the process's listen addresses from the file's settings.
func (f *File) Listeners() listeners.Config {
	return listeners.Config{Gateway: f.Listen, Admin: f.AdminListen, Metrics: f.MetricsListen}
}

// MemcachedStore is the config of the memcached L2 (Memcached).
func (r Redis) MemcachedStore() memcachestore.Config {
	return memcachestore.Config{URL: string(r.URL), Prefix: r.KeyPrefix}
}

// memcachedProblems names the settings a memcached L2 would ignore: they
// are Redis's.
func (r Redis) memcachedProblems() error {
	var errs []error
	for _, f := range []struct {
		name string
		set  bool
	}{{"addrs", len(r.Addrs) > 0}, {"master_name", r.MasterName != ""}, {"username", r.Username != ""},
		{"password", r.Password != ""}, {"db", r.DB != 0}, {"tls", r.TLS}} {
		if f.set {
			errs = append(errs, setting.Errorf(f.name, "is a Redis setting; a memcached:// url takes only key_prefix"))
		}
	}
	return errors.Join(errs...)
}

// Gateway is the gateway's config from the file's settings; the assembly
// adds the stores, the policy, the tag emitter and what only it has
// (stats, logger, metrics). Origin is nil when the file has none.
func (f *File) Gateway() gateway.Config {
	var origin *url.URL
	if f.Origin != "" {
		origin, _ = gateway.ParseOrigin(f.Origin) // checked by Load and Validate
	}
	return gateway.Config{
		Origin:           origin,
		CacheName:        f.CacheNameOrDefault(),
		SessionCookies:   f.SessionCookies,
		MaxObjectSize:    f.Limits.MaxObjectSize,
		MaxHeaderBytes:   int(f.Limits.MaxHeaderBytes),
		OriginTimeout:    f.Limits.OriginTimeout,
		Heuristic:        f.Cache.HeuristicFreshness,
		Keep:             f.Cache.Keep,
		EarlyRefreshBeta: f.Cache.EarlyRefreshBeta,
		TargetedFields:   f.Cache.TargetedFields,
		ServerHeader:     f.ServerHeader,
		Via:              f.Via == nil || *f.Via,
		L2Admission:      f.L2.Admission,
		ESITimeout:       f.ESI.Timeout,
		ESIMaxDepth:      f.ESI.MaxDepth,
		Warm: gateway.WarmConfig{
			Enabled: f.Warm.Enabled, TopK: f.Warm.TopK, Rate: f.Warm.Rate,
			OriginRate: f.Warm.OriginRate, Burst: f.Warm.Burst, MaxTenants: f.Warm.MaxTenants,
		},
		// AccessLog is the assembly's: a logger, not a setting.
		AccessLogSample: f.Log.AccessSample,
	}
}

// Store is the L1's config.
func (l L1) Store() memstore.Config { return memstore.Config{MaxBytes: l.MaxBytes} }

// Embedded is the embedded NATS server's config, under dir (DataDir, or a
// temporary directory the assembly makes when it is empty).
func (f *File) Embedded(dir string) natsserver.Config {
	return natsserver.Config{Listen: f.NATS.EmbeddedListen, StoreDir: filepath.Join(dir, "nats")}
}

// Mapper returns the event mapper's rules.
func (e Events) Mapper() []events.Rule {
	out := make([]events.Rule, len(e.Rules))
	for i, r := range e.Rules {
		out[i] = events.Rule(r)
	}
	return out
}

// Dispatcher is the purge dispatcher's config without its providers (the
// assembly builds them: Purgers, Target) and what only it has.
func (c CDN) Dispatcher() purge.DispatcherConfig {
	return purge.DispatcherConfig{
		Hosts: c.Hosts, Window: c.CoalesceWindow,
		BackoffBase: c.RetryBackoff, BackoffMax: c.RetryBackoffMax, CallTimeout: c.CallTimeout,
	}
}

// Target is what the dispatcher knows of provider name besides its
// purger: the zones or services per tenant, soft purges and the rate
// limit. The zero Provider for one without a purger.
func (c CDN) Target(name string) purge.Provider {
	switch name {
	case ProviderCloudflare:
		plan, ok := cdn.CloudflarePlan(c.Cloudflare.Plan)
		rate := purge.RateLimit{Plan: plan.Name}
		if !ok {
			rate.Plan = c.Cloudflare.Plan // the rate limiter reports it
		}
		return purge.Provider{Zone: c.Cloudflare.Zone, Zones: c.Cloudflare.Zones, Rate: rate}
	case ProviderFastly:
		return purge.Provider{Zone: c.Fastly.ServiceID, Zones: c.Fastly.Services, Soft: c.Fastly.SoftPurge}
	case ProviderVarnish:
		// Varnish nodes are the zone: one shared cache for every tenant.
		return purge.Provider{Zone: ProviderVarnish, Soft: c.Varnish.Soft}
	}
	return purge.Provider{}
}

// Analytics are the analytics of the selected providers, for the CDN's own
// hit ratio: Cloudflare's shared zone and Fastly's service, read with
// their purge tokens (a Cloudflare token needs Analytics Read as well as
// Cache Purge), and Varnish's nodes where stats_urls are set. Tenants'
// own zones and services are not read.
func (c CDN) Analytics() []cdnstats.Source {
	var out []cdnstats.Source
	if c.Has(ProviderCloudflare) && c.Cloudflare.Zone != "" {
		out = append(out, &cdnstats.Cloudflare{BaseURL: cmp.Or(c.Cloudflare.BaseURL, cloudflare.DefaultBaseURL),
			APIToken: string(c.Cloudflare.APIToken), Zone: c.Cloudflare.Zone})
	}
	if c.Has(ProviderFastly) && c.Fastly.ServiceID != "" {
		// A base URL set for the purge API (a fake, a proxy) serves the
		// real-time API too; the default one does not.
		out = append(out, &cdnstats.Fastly{BaseURL: c.Fastly.BaseURL, APIToken: string(c.Fastly.APIToken), ServiceID: c.Fastly.ServiceID})
	}
	if c.Has(ProviderVarnish) && len(c.Varnish.StatsURLs) > 0 {
		out = append(out, &cdnstats.Varnish{StatsURLs: c.Varnish.StatsURLs})
	}
	return out
}

// Purgers are the configs of the selected providers' purgers, by provider;
// the assembly adds the HTTP client, logger and registerer.
type Purgers struct {
	Cloudflare *cloudflare.Config
	Fastly     *fastly.Config
	Varnish    *varnish.Config
}

// Purgers converts the sections of the selected providers that purge. A
// Cloudflare plan sets the URLs of one call (cdn.Plan); an unknown plan
// keeps the default, and is reported by Load and the rate limiter.
func (c CDN) Purgers() Purgers {
	var out Purgers
	if c.Has(ProviderCloudflare) {
		plan, _ := cdn.CloudflarePlan(c.Cloudflare.Plan)
		out.Cloudflare = &cloudflare.Config{
			APIToken: string(c.Cloudflare.APIToken), BaseURL: c.Cloudflare.BaseURL,
			Limits: purge.Limits{URLsPerCall: plan.URLsPerCall},
		}
	}
	if c.Has(ProviderFastly) {
		out.Fastly = &fastly.Config{APIToken: string(c.Fastly.APIToken), BaseURL: c.Fastly.BaseURL}
	}
	if c.Has(ProviderVarnish) {
		out.Varnish = &varnish.Config{URLs: c.Varnish.URLs, Soft: c.Varnish.Soft, Timeout: c.Varnish.Timeout}
	}
	return out
}

// problem is one package's complaint about a setting at path (the
// file's spelling: "redis.addrs[1]", or a section "nats").
type problem struct {
	path string
	err  error
}

func (p problem) String() string { return p.path + ": " + p.err.Error() }

// packageProblems validates each section with its package.
func (f *File) packageProblems() []problem {
	var out []problem
	add := func(section string, err error) {
		for _, fe := range setting.All(err) {
			path := section
			if fe.Field != "" && path != "" {
				path += "." + fe.Field
			} else if fe.Field != "" {
				path = fe.Field
			}
			out = append(out, problem{path, fe.Err})
		}
	}
	if f.Redis.Memcached() {
		add("redis", f.Redis.MemcachedStore().Validate())
		add("redis", f.Redis.memcachedProblems())
	} else if !reflect.ValueOf(f.Redis).IsZero() {
		add("redis", f.Redis.Store().Validate())
		if !f.Redis.Enabled() {
			// Otherwise the section's settings would be accepted and
			// ignored: no url and no addrs is no L2.
			out = append(out, problem{"redis", errors.New("url or addrs is required (leave redis out for no L2)")})
		}
	}
	if f.L2.Admission != "" && !f.Redis.Enabled() {
		// Otherwise accepted and ignored: without redis there is no L2.
		out = append(out, problem{"l2.admission", errors.New("needs redis (there is no L2 without it)")})
	}
	add("", f.Listeners().Validate())
	add("", f.Gateway().ValidateSettings())
	add("l1", f.L1.Store().Validate())
	add("nats", f.NATS.Conn().Validate())
	// The regions are checked once, with cdn.purge_region, by Regions.
	streams := f.NATS.Streams()
	streams.Regions = events.Regions{}
	add("nats", streams.Validate())
	add("", f.Regions().Validate())
	out = append(out, f.regionProblems()...)
	if f.NATS.URL == "" && f.NATS.Replicas > 1 {
		out = append(out, problem{"nats.replicas", errors.New("replicas need a NATS cluster (nats.url); the embedded server is one server")})
	}
	add("events", events.ValidateRules(f.Events.Mapper()))
	if f.NATS.URL == "" {
		add("", f.Embedded(f.DataDir).Validate())
	}
	ps := f.CDN.Purgers()
	if ps.Cloudflare != nil {
		add("cdn.cloudflare", ps.Cloudflare.Validate())
	}
	if ps.Fastly != nil {
		add("cdn.fastly", ps.Fastly.Validate())
	}
	if ps.Varnish != nil {
		add("cdn.varnish", ps.Varnish.Validate())
	}
	return out
}

// nodeOf finds the node of path, or of the nearest enclosing setting
// that was written ("redis.addrs[1]", then "redis.addrs", then "redis").
func (d *decoder) nodeOf(path string) (line int, found bool) {
	for p := path; p != ""; {
		if n := d.written[p]; n != nil {
			return n.Line, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if n := d.written["config."+path[:strings.IndexAny(path+".", ".[")]]; n != nil {
		return n.Line, true
	}
	return 1, false
}

// checkPackages places each package's problems on their settings' lines.
func (r *rootDecoder) checkPackages() {
	for _, p := range r.f.packageProblems() {
		line, found := r.nodeOf(p.path)
		// A provider's setting that is missing is shown on the line
		// that selects the provider.
		if section, _, ok := strings.Cut(strings.TrimPrefix(p.path, "cdn."), "."); ok && strings.HasPrefix(p.path, "cdn.") {
			if at := r.providerAt[section]; at != nil && (!found || r.written[p.path] == nil) {
				line = at.Line
			}
		}
		r.errs = append(r.errs, Error{File: r.file, Line: line, Msg: p.String()})
	}
}

// regionProblems are the regions' settings that are valid alone but not
// with the rest of the file.
func (f *File) regionProblems() []problem {
	r := f.Regions()
	var out []problem
	if r.Name != "" && f.NATS.URL == "" {
		out = append(out, problem{"nats.region", errors.New("regions need a standalone NATS (nats.url) with a JetStream domain and a leaf node link; the embedded server has neither")})
	}
	if r.PurgeRegion != "" && len(f.CDN.ProviderNames()) == 0 {
		// Otherwise accepted and ignored: without a CDN nothing is purged.
		out = append(out, problem{"cdn.purge_region", errors.New("needs a cdn provider")})
	}
	if len(r.Sources) > 0 && f.CDN.Has(ProviderVarnish) && r.PurgeRegion != events.PurgeEvery {
		// Varnish runs in each region: purged by one region only, the
		// other regions' Varnish would keep every other region's events'
		// pages.
		out = append(out, problem{"cdn.purge_region", fmt.Errorf("varnish is a layer of each region, so every region must purge it: set purge_region: %s (a CDN listed beside it then gets one purge per region)", events.PurgeEvery)})
	}
	return out
}
