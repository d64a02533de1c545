package config

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/policy"
)

// ProviderNames returns the configured providers in file order: Providers,
// or Provider alone; none for "", "none" or an empty list. A gateway behind
// several layers (Varnish in front of it, a CDN in front of Varnish) lists
// them all: each gets its tag header and its purges.
func (c CDN) ProviderNames() []string {
	if len(c.Providers) > 0 {
		return slices.Clone(c.Providers)
	}
	if c.Provider == "" || c.Provider == ProviderNone {
		return nil
	}
	return []string{c.Provider}
}

// Has reports whether provider p is configured.
func (c CDN) Has(p string) bool { return slices.Contains(c.ProviderNames(), p) }

// cdnHeaderOf is the header a provider reads CDN directives from
// (cdn.Facts.CacheControlHeader); "" for Varnish.
func cdnHeaderOf(p string) string {
	f, err := cdn.Lookup(p)
	if err != nil {
		return policy.DefaultCDNHeader
	}
	return f.CacheControlHeader
}

// defaultCDNHeader: the CDN's own header when exactly one CDN (not
// Varnish) is configured, else the standard CDN-Cache-Control (RFC 9213),
// which every CDN above reads.
func (c CDN) defaultCDNHeader() string {
	var hs []string
	for _, p := range c.ProviderNames() {
		if h := cdnHeaderOf(p); h != "" && !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	if len(hs) == 1 {
		return hs[0]
	}
	return policy.DefaultCDNHeader
}

// purgingProviders are those with a purger, and so a config section.
func purgingProviders() []string {
	var out []string
	for _, p := range cdn.Names() {
		if f, _ := cdn.Lookup(p); f.Purges {
			out = append(out, p)
		}
	}
	return out
}

// providerName checks one provider name at node s; list says it is an
// item of cdn.providers, where "none" has no meaning.
func (r *rootDecoder) providerName(s *yaml.Node, what string, list bool) bool {
	known := Providers()
	if list {
		known = known[1:] // without "none"
		if s.Value == ProviderNone {
			r.errorf(s, "%s: %q cannot be listed; for no CDN leave cdn.providers out or empty", what, s.Value)
			return false
		}
	}
	if !slices.Contains(known, s.Value) {
		msg := fmt.Sprintf("%s: unknown provider %q (%s)", what, s.Value, strings.Join(known, ", "))
		if sug := suggest(s.Value, known); sug != "" {
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		r.errorf(s, "%s", msg)
		return false
	}
	return true
}

// providerList decodes cdn.providers: known names, each once.
func (r *rootDecoder) providerList(v *yaml.Node) {
	c := &r.f.CDN
	var names []string
	nodes := r.list(v, "cdn.providers", &names)
	c.Providers = []string{}
	for i, s := range nodes {
		p := names[i]
		if !r.providerName(s, "cdn.providers", true) {
			continue
		}
		if slices.Contains(c.Providers, p) {
			r.errorf(s, "cdn.providers: %q is listed twice", p)
			continue
		}
		c.Providers = append(c.Providers, p)
		r.providerAt[p] = s
	}
}

// checkProviders runs after the cdn section: one spelling only, every
// provider section belongs to a selected provider, and every selected
// provider has its targets and credentials. Errors about a provider are
// placed on the line that names it.
func (r *rootDecoder) checkProviders() {
	c := &r.f.CDN
	if r.sections["cdn.provider"] != nil && r.sections["cdn.providers"] != nil {
		r.errorf(r.sections["cdn.providers"], "cdn: set provider (one) or providers (a list), not both")
	}
	selected := c.ProviderNames()
	what := fmt.Sprintf("cdn.provider is %q", cmpOr(c.Provider, ProviderNone))
	if len(c.Providers) > 0 || r.sections["cdn.providers"] != nil {
		what = fmt.Sprintf("cdn.providers is [%s]", strings.Join(c.Providers, ", "))
	}
	for _, p := range purgingProviders() {
		if n := r.sections["cdn."+p]; n != nil && !slices.Contains(selected, p) && r.sectionSet["cdn."+p] {
			r.errorf(n, "cdn.%s is configured but %s", p, what)
		}
	}
	key := "cdn.provider"
	if len(c.Providers) > 0 {
		key = "cdn.providers:"
	}
	for _, p := range selected {
		at := r.providerAt[p]
		if at == nil {
			continue // a name that did not decode was reported already
		}
		for _, m := range missingFor(*c, p) {
			r.errorf(at, "%s %s needs %s", key, p, m)
		}
	}
}

// missingFor lists what provider p lacks to purge: its zones or services,
// which name the purge's targets (purge.Provider.Zone). What the purger
// itself needs (its token, Varnish's URLs) its Config.Validate reports.
func missingFor(c CDN, p string) []string {
	var out []string
	switch p {
	case ProviderCloudflare:
		if c.Cloudflare.Zone == "" && len(c.Cloudflare.Zones) == 0 {
			out = append(out, "cdn.cloudflare.zone or cdn.cloudflare.zones")
		}
	case ProviderFastly:
		if c.Fastly.ServiceID == "" && len(c.Fastly.Services) == 0 {
			out = append(out, "cdn.fastly.service_id or cdn.fastly.services")
		}
	}
	return out
}

// validateProviders is checkProviders without lines, for Validate: the
// file may have been built or changed in code.
func (c CDN) validateProviders(add func(format string, a ...any)) {
	if c.Provider != "" && c.Provider != ProviderNone && len(c.Providers) > 0 {
		add("cdn: set provider (one) or providers (a list), not both")
	}
	var seen []string
	for _, p := range c.ProviderNames() {
		switch {
		case !slices.Contains(Providers()[1:], p):
			add("cdn: unknown provider %q", p)
			continue
		case slices.Contains(seen, p):
			add("cdn.providers: %q is listed twice", p)
			continue
		}
		seen = append(seen, p)
		for _, m := range missingFor(c, p) {
			add("cdn: provider %s needs %s", p, m)
		}
	}
}
