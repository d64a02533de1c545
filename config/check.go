package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge/cloudflare"
)

// section remembers the key node of a CDN section for later messages.
func (r *rootDecoder) section(key string, _ *yaml.Node) {
	if r.sections == nil {
		r.sections = map[string]*yaml.Node{}
	}
	r.sections[key] = r.key
}

func (r *rootDecoder) cdn(v *yaml.Node) {
	c := &r.f.CDN
	r.section("cdn", v)
	r.providerAt = map[string]*yaml.Node{}
	r.mapping(v, "cdn", []field{
		{"provider", func(v *yaml.Node) {
			r.section("cdn.provider", v)
			if s, ok := r.scalar(v, "cdn.provider"); ok && r.providerName(s, "cdn.provider", false) {
				c.Provider = s.Value
				r.providerAt[s.Value] = s
			}
		}},
		{"providers", func(v *yaml.Node) { r.section("cdn.providers", v); r.providerList(v) }},
		{"coalesce_window", func(v *yaml.Node) { r.duration(v, "cdn.coalesce_window", &c.CoalesceWindow) }},
		{"retry_backoff", func(v *yaml.Node) { r.duration(v, "cdn.retry_backoff", &c.RetryBackoff) }},
		{"retry_backoff_max", func(v *yaml.Node) { r.duration(v, "cdn.retry_backoff_max", &c.RetryBackoffMax) }},
		{"call_timeout", func(v *yaml.Node) { r.duration(v, "cdn.call_timeout", &c.CallTimeout) }},
		{"header", func(v *yaml.Node) { r.section("cdn.header", v); r.str(v, "cdn.header", &c.Header) }},
		{"purge_region", func(v *yaml.Node) { r.str(v, "cdn.purge_region", &c.PurgeRegion) }},
		{"hosts", func(v *yaml.Node) {
			for t, n := range r.strMap(v, "cdn.hosts", &c.Hosts) {
				r.tenantKey(n, "cdn.hosts", t)
				if h := c.Hosts[t]; strings.ContainsAny(h, "/: ") || h == "" {
					r.errorf(n, "cdn.hosts: %q must be a host name (no scheme, port or path)", h)
				}
			}
		}},
		{"cloudflare", func(v *yaml.Node) { r.section("cdn.cloudflare", v); r.setIf("cdn.cloudflare", v); r.cloudflare(v) }},
		{"fastly", func(v *yaml.Node) { r.section("cdn.fastly", v); r.setIf("cdn.fastly", v); r.fastly(v) }},
		{"varnish", func(v *yaml.Node) { r.section("cdn.varnish", v); r.setIf("cdn.varnish", v); r.varnish(v) }},
	})
	// A provider's section without the provider selected is most likely
	// a forgotten switch; one selected without its section cannot purge.
	r.checkProviders()
}

func (r *rootDecoder) setIf(key string, v *yaml.Node) {
	if r.sectionSet == nil {
		r.sectionSet = map[string]bool{}
	}
	r.sectionSet[key] = !isNull(r.resolve(v))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (r *rootDecoder) tenantKey(n *yaml.Node, what, tenant string) {
	if err := invalidation.ValidateTenant(tenant); err != nil {
		r.errorf(n, "%s: %v", what, err)
	}
}

func (r *rootDecoder) cloudflare(v *yaml.Node) {
	cf := &r.f.CDN.Cloudflare
	zone := func(n *yaml.Node, id string) {
		if err := cloudflare.CheckZoneID(id); err != nil {
			r.errorf(n, "cdn.cloudflare: %v", err)
		}
	}
	r.mapping(v, "cdn.cloudflare", []field{
		{"api_token", func(v *yaml.Node) { r.secret(v, "cdn.cloudflare.api_token", &cf.APIToken) }},
		{"base_url", func(v *yaml.Node) { r.str(v, "cdn.cloudflare.base_url", &cf.BaseURL) }},
		{"plan", func(v *yaml.Node) {
			if s, ok := r.scalar(v, "cdn.cloudflare.plan"); ok {
				if !slices.Contains(cdn.PlanNames(), s.Value) {
					r.errorf(s, "cdn.cloudflare.plan: unknown plan %q (%s)", s.Value, strings.Join(cdn.PlanNames(), ", "))
					return
				}
				cf.Plan = s.Value
			}
		}},
		{"zone", func(v *yaml.Node) {
			r.str(v, "cdn.cloudflare.zone", &cf.Zone)
			if cf.Zone != "" {
				zone(v, cf.Zone)
			}
		}},
		{"zones", func(v *yaml.Node) {
			for t, n := range r.strMap(v, "cdn.cloudflare.zones", &cf.Zones) {
				r.tenantKey(n, "cdn.cloudflare.zones", t)
				zone(n, cf.Zones[t])
			}
		}},
	})
}

func (r *rootDecoder) fastly(v *yaml.Node) {
	fs := &r.f.CDN.Fastly
	r.mapping(v, "cdn.fastly", []field{
		{"api_token", func(v *yaml.Node) { r.secret(v, "cdn.fastly.api_token", &fs.APIToken) }},
		{"base_url", func(v *yaml.Node) { r.str(v, "cdn.fastly.base_url", &fs.BaseURL) }},
		{"service_id", func(v *yaml.Node) { r.str(v, "cdn.fastly.service_id", &fs.ServiceID) }},
		{"services", func(v *yaml.Node) {
			for t, n := range r.strMap(v, "cdn.fastly.services", &fs.Services) {
				r.tenantKey(n, "cdn.fastly.services", t)
			}
		}},
		{"soft_purge", func(v *yaml.Node) { r.boolean(v, "cdn.fastly.soft_purge", &fs.SoftPurge) }},
	})
}

func (r *rootDecoder) varnish(v *yaml.Node) {
	vn := &r.f.CDN.Varnish
	r.mapping(v, "cdn.varnish", []field{
		{"urls", func(v *yaml.Node) { r.list(v, "cdn.varnish.urls", &vn.URLs) }},
		{"soft", func(v *yaml.Node) { r.boolean(v, "cdn.varnish.soft", &vn.Soft) }},
		{"timeout", func(v *yaml.Node) { r.duration(v, "cdn.varnish.timeout", &vn.Timeout) }},
		{"stats_urls", func(v *yaml.Node) {
			for i, n := range r.list(v, "cdn.varnish.stats_urls", &vn.StatsURLs) {
				if u, err := url.Parse(vn.StatsURLs[i]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					r.errorf(n, "cdn.varnish.stats_urls[%d]: %q: need an http(s) URL serving varnishstat -j", i, vn.StatsURLs[i])
				}
			}
		}},
	})
}

// events decodes the event rules (events.ValidateRules checks them) and
// whether this node coordinates.
func (r *rootDecoder) events(v *yaml.Node) {
	r.mapping(v, "events", []field{{"coordinator", func(v *yaml.Node) {
		coordinate := true
		r.boolean(v, "events.coordinator", &coordinate)
		r.f.Events.NoCoordinator = !coordinate
	}}, {"rules", func(v *yaml.Node) {
		n := r.resolve(v)
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			r.errorf(n, "events.rules must be a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			var er EventRule
			what := fmt.Sprintf("events.rules[%d]", i)
			r.remember(what, c)
			r.mapping(c, what, []field{
				{"type", func(v *yaml.Node) { r.str(v, what+".type", &er.Type) }},
				{"tags", func(v *yaml.Node) { r.list(v, what+".tags", &er.Tags) }},
				{"replace_default", func(v *yaml.Node) { r.boolean(v, what+".replace_default", &er.ReplaceDefault) }},
			})
			r.f.Events.Rules = append(r.f.Events.Rules, er)
		}
	}}})
}

// checkFile runs the checks that span sections.
func (r *rootDecoder) checkFile() {
	f := r.f
	if n := r.top["origin"]; n != nil && f.Origin != "" {
		if _, err := gateway.ParseOrigin(f.Origin); err != nil {
			r.errorf(n, "origin %v", err)
		}
	}
	if n := r.top["data_dir"]; n != nil && f.DataDir != "" && f.NATS.URL != "" {
		// Otherwise accepted and ignored: data_dir holds nothing else.
		r.errorf(n, "data_dir holds the embedded NATS server's data, which is not started when nats.url is set")
	}
}

// Validate checks the file as the command will use it, after flags and
// environment overrides: what Load already checked for the file's own
// values (without lines, as overrides have none), plus what must be present
// in the end (an origin; the CDN provider's credentials).
func (f *File) Validate() error {
	name := cmpOr(f.Path, "config")
	var errs Errors
	add := func(format string, a ...any) { errs = append(errs, Error{File: name, Msg: fmt.Sprintf(format, a...)}) }
	if f.Origin == "" {
		add("origin is required (origin: in the file, --origin or CACHEGATE_ORIGIN)")
	} else if _, err := gateway.ParseOrigin(f.Origin); err != nil {
		add("origin %v", err)
	}
	switch f.Log.Format {
	case "", LogFormatText, LogFormatJSON:
	default:
		add("log.format %q: text or json", f.Log.Format)
	}
	// Only the settings after overrides tell: the URL may come from
	// CACHEGATE_NATS_URL.
	if f.NATS.URL == "" && f.NATS.Conn().HasCredentials() {
		add("nats: credentials are for a standalone server (nats.url); the embedded server makes its own")
	}
	if f.NATS.URL == "" && f.Events.NoCoordinator {
		// With its own embedded server no other node's coordinator would
		// see its events: they would wait for good.
		add("events.coordinator: false needs a NATS server shared with the coordinating nodes (nats.url)")
	}
	for _, p := range f.packageProblems() {
		add("%s", p)
	}
	f.CDN.validateProviders(add)
	for _, p := range policy.Check(f.Policy()) {
		add("%v", p)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
