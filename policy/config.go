package policy

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/cachegate/cachegate/invalidation"
)

// Tenant resolution modes of TenantConfig.By.
const (
	TenantByHost       = "host"
	TenantBySubdomain  = "subdomain"
	TenantByHeader     = "header"
	TenantByPathPrefix = "path_prefix"
)

// UnresolvedTenant is the tenant of requests whose tenant is missing or not
// a valid tenant name when TenantConfig.Fallback is empty; such requests
// bypass the cache (see TenantConfig).
const UnresolvedTenant = "_invalid"

// BypassUnresolvedTenant is the BypassReason of those requests.
const BypassUnresolvedTenant = "tenant:unresolved"

// DefaultRuleName names the default rule when RuleConfig.Name is empty.
const DefaultRuleName = "default"

// Values of RuleConfig.Origin.
const (
	OriginRespect  = "respect"
	OriginOverride = "override"
)

// Values of RuleConfig.ESI (see package esi and the gateway's esi.go).
const (
	// ESIOrigin (empty, the default): a response is assembled when its
	// origin sends Surrogate-Control: content="ESI/1.0".
	ESIOrigin = ""
	// ESIAssemble: every response of the route is assembled, and its
	// shell is requested without the user's credentials so it is shared.
	ESIAssemble = "assemble"
	// ESIPass: includes are passed on untouched, for a CDN in front that
	// assembles ESI itself (Fastly, Akamai).
	ESIPass = "pass"
)

// DefaultCDNHeader carries a rule's CDN directives when neither the rule nor
// the policy names another header (RFC 9213).
const DefaultCDNHeader = "CDN-Cache-Control"

// DefaultSessionCookies are the cookie names that make a request private
// when Config.SessionCookies is nil.
func DefaultSessionCookies() []string { return []string{"sessionid", "session"} }

// Config is the whole header policy. Its zero value is the zero-config
// policy: tenant = host, private on Authorization or a session cookie,
// nothing else decided (the origin's headers rule).
type Config struct {
	// SessionCookies make a request private when present. nil means
	// DefaultSessionCookies; an empty non-nil slice means none (only
	// Authorization and private routes make a request private).
	SessionCookies []string
	Tenants        TenantConfig
	// Rules are tried in order; the first match wins.
	Rules []RuleConfig
	// Default applies when no rule matches; its Match must be empty. A zero
	// Default decides nothing (respect the origin).
	Default RuleConfig
	// CDNHeader carries rules' CDN directives unless a rule names its own;
	// empty means DefaultCDNHeader.
	CDNHeader string
}

// TenantConfig says how a request's tenant is derived. Whatever the mode, a
// Hosts entry for the request's host wins. A derived name that is missing or
// fails invalidation.ValidateTenant is unresolved: with Fallback empty, the
// request gets tenant UnresolvedTenant and bypasses the cache (cache keys do
// not hold the host, so two unresolvable hosts must not share entries);
// with Fallback set, it belongs to that tenant and is cached like any other
// (the operator said those hosts are one site).
type TenantConfig struct {
	// By is "host" (default: the lower-cased host without port), "subdomain"
	// (the label just left of one of Domains: acme.example.com → acme),
	// "header" (the value of Header, lower-cased) or "path_prefix" (the first
	// path segment, lower-cased; rules then match the path without it,
	// except on hosts that Hosts maps, whose paths have no tenant segment).
	By string
	// Header names the request header for By "header".
	Header string
	// Domains are the parent domains for By "subdomain".
	Domains []string
	// Hosts maps a host (lower case, no port; "*.example.com" matches any
	// subdomain) to a tenant.
	Hosts map[string]string
	// Fallback is the tenant of unresolved requests; empty: they bypass
	// the cache as UnresolvedTenant.
	Fallback string
}

// RuleConfig is one route rule: a match and what to decide for it.
type RuleConfig struct {
	// Name identifies the rule in decisions, stats and logs; empty means
	// the path pattern (or DefaultRuleName for the default rule).
	Name  string
	Match MatchConfig
	// Private routes are never shared, whatever else is set.
	Private bool
	// TTL overrides the origin's freshness for the gateway's layers; nil
	// respects the origin.
	TTL *time.Duration
	// AutoTTL is set by "ttl: auto": the gateway learns the TTL (see
	// AutoTTL); TTL is then nil.
	AutoTTL *AutoTTL
	// Origin says how the rule treats the origin's storage and freshness
	// directives: OriginRespect (empty, the default: an origin's no-store,
	// private or no-cache wins over TTL) or OriginOverride (TTL, the stale
	// windows and the rule's browser and CDN directives apply whatever the
	// origin says; what makes a request private, Set-Cookie and Vary: *
	// are never overridden).
	Origin               string
	StaleWhileRevalidate *time.Duration
	StaleIfError         *time.Duration
	// EarlyRefreshBeta overrides the gateway's XFetch beta of early
	// refresh for the route; 0 turns it off; nil keeps the gateway's.
	EarlyRefreshBeta *float64
	// Browser replaces the Cache-Control sent to clients; empty keeps the
	// origin's.
	Browser string
	// CDN is sent to the CDN in CDNHeader (or the policy's); empty sends
	// nothing.
	CDN       string
	CDNHeader string
	// Tags are tag templates added to responses (see Template).
	Tags []string
	// Locales that Accept-Language is normalized to; the first is the
	// default.
	Locales []string
	// StaffBypass names a cookie and/or header whose presence sends the
	// request to the origin uncached (editors' previews).
	StaffBypass StaffBypass
	// ESI is ESIOrigin, ESIAssemble or ESIPass.
	ESI string
}

// StaffBypass names what marks a staff request; empty fields never match.
type StaffBypass struct {
	Cookie string
	Header string
}

// MatchConfig is a rule's match; every set field must match (empty = any).
type MatchConfig struct {
	// Hosts: lower-case hosts without port; "*.example.com" matches any
	// subdomain (not example.com itself).
	Hosts   []string
	Tenants []string
	// Path is a PathPattern; empty matches every path.
	Path string
	// Methods: upper-case; GET also matches HEAD.
	Methods []string
	// Cookies and Headers must all be present (any value).
	Cookies []string
	Headers []string
}

func (m MatchConfig) isZero() bool {
	return len(m.Hosts)+len(m.Tenants)+len(m.Methods)+len(m.Cookies)+len(m.Headers) == 0 && m.Path == ""
}

// Problem is one thing wrong with a Config, located so that a
// config loader can point at the line: Rule is the index in Rules, -1 for
// Default and -2 for the policy as a whole; Field is the config key
// ("match.path", "browser", "tags", "tenants.hosts", ...) and Index the
// position in a list field (-1 for none).
type Problem struct {
	Rule  int
	Field string
	Index int
	Msg   string
}

// Rule indexes of Problem besides positions in Config.Rules.
const (
	ProblemDefaultRule = -1
	ProblemPolicy      = -2
)

func (p Problem) Error() string {
	where := "policy"
	switch {
	case p.Rule >= 0:
		where = fmt.Sprintf("rule %d", p.Rule+1)
	case p.Rule == ProblemDefaultRule:
		where = "default rule"
	}
	if p.Field != "" {
		where += " " + p.Field
		if p.Index >= 0 {
			where += fmt.Sprintf("[%d]", p.Index)
		}
	}
	return where + ": " + p.Msg
}

// knownMethods are the methods a rule may name.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
	http.MethodConnect: true, http.MethodTrace: true, "PURGE": true,
}

func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 || h != strings.ToLower(h) {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return !strings.Contains(h, "..") && h[0] != '.' && h[len(h)-1] != '.'
}

// ValidCookieName reports whether name may name a session cookie: an RFC
// 6265 cookie-name, which is an RFC 9110 token. The policy and the
// gateway's own default policy both check with it.
func ValidCookieName(name string) bool { return validToken(name) }

// validToken reports whether s is an RFC 9110 token (header and cookie names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validLocale(s string) bool {
	for i, part := range strings.Split(s, "-") {
		if len(part) == 0 || len(part) > 8 || i == 0 && len(part) < 2 {
			return false
		}
		for j := 0; j < len(part); j++ {
			c := part[j] | 0x20
			if !(c >= 'a' && c <= 'z' || i > 0 && part[j] >= '0' && part[j] <= '9') {
				return false
			}
		}
	}
	return true
}

func canonicalHeader(s string) string { return textproto.CanonicalMIMEHeaderKey(s) }

// checkTenantConfig reports the problems of the tenant settings.
func checkTenantConfig(tc TenantConfig, add func(field string, idx int, format string, a ...any)) {
	switch tc.By {
	case "", TenantByHost, TenantBySubdomain, TenantByHeader, TenantByPathPrefix:
	default:
		add("tenants.by", -1, "unknown tenant mode %q (host, subdomain, header or path_prefix)", tc.By)
	}
	if tc.By == TenantByHeader && !validToken(tc.Header) {
		add("tenants.header", -1, "by: header needs a valid header name, got %q", tc.Header)
	}
	if tc.By != TenantByHeader && tc.Header != "" {
		add("tenants.header", -1, "header is only used with by: header")
	}
	if tc.By == TenantBySubdomain && len(tc.Domains) == 0 {
		add("tenants.domains", -1, "by: subdomain needs at least one domain")
	}
	if tc.By != TenantBySubdomain && len(tc.Domains) > 0 {
		add("tenants.domains", -1, "domains are only used with by: subdomain")
	}
	for i, d := range tc.Domains {
		if !validHostPattern(d) || strings.HasPrefix(d, "*.") {
			add("tenants.domains", i, "invalid domain %q (lower-case host name)", d)
		}
	}
	for h, t := range tc.Hosts {
		if !validHostPattern(h) {
			add("tenants.hosts", -1, "invalid host %q (lower-case, no port; *.example.com for subdomains)", h)
		}
		if err := invalidation.ValidateTenant(t); err != nil {
			add("tenants.hosts", -1, "host %q: %v", h, err)
		}
	}
	if tc.Fallback != "" {
		if err := invalidation.ValidateTenant(tc.Fallback); err != nil {
			add("tenants.fallback", -1, "%v", err)
		}
	}
}

// AutoTTL bounds a TTL the gateway learns for a route ("ttl: auto"): a
// Fraction of the interval between the changes it observes (a
// revalidation answered 200 with a new validator, against 304s; an
// invalidation of its entries), longer for URLs read rarely, Max when
// events announce every change, clamped to [Min, Max] (the rule is the
// gateway's). Zero fields take the Default* values.
type AutoTTL struct {
	Min, Max time.Duration
	Fraction float64
}

// Defaults of AutoTTL's zero fields.
const (
	DefaultAutoTTLMin      = time.Minute
	DefaultAutoTTLMax      = 24 * time.Hour
	DefaultAutoTTLFraction = 0.25
)

// WithDefaults is a with its zero fields set to the defaults.
func (a AutoTTL) WithDefaults() AutoTTL {
	if a.Min == 0 {
		a.Min = DefaultAutoTTLMin
	}
	if a.Max == 0 {
		a.Max = DefaultAutoTTLMax
	}
	if a.Fraction == 0 {
		a.Fraction = DefaultAutoTTLFraction
	}
	return a
}
