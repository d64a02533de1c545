package policy

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
	"github.com/cachegate/cachegate/uri"
)

// Policy is a compiled Config. Everything that can be prepared
// (path patterns, templates, canonical header names, reason strings) is
// prepared once by Compile, so Decide does no parsing and allocates
// only the expanded tags. A Policy is immutable and safe for concurrent use.
type Policy struct {
	sessionCookies []string
	sessionReasons []string // "cookie:<name>", parallel to sessionCookies
	tenants        tenantResolver
	rules          []*rule
	def            *rule
	// reads are the request header fields Decide reads besides Host,
	// Cookie and Authorization (RequestHeaders).
	reads []string
}

type rule struct {
	name          string
	hosts         []string // exact
	hostSuffixes  []string // from "*.example.com": ".example.com"
	tenants       []string
	path          *PathPattern
	methods       []string
	cookies       []string
	headers       []string // canonical
	private       bool
	privateReason string

	base       Decision // Rule, TTL, stale, Browser, CDN, header, Locales
	staticTags []string
	tags       []*tagging.Bound // when any has placeholders
	tagBytes   int              // literal bytes of tags, to size the buffer

	bypassCookie, bypassHeader             string // header canonical
	bypassCookieReason, bypassHeaderReason string
}

// Positions of a rule tag's values (tagging.Bound): the tenant, host and
// path, then the path parameters in the pattern's order.
const (
	valTenant = iota
	valHost
	valPath
	valParams
)

// Compile checks cfg (see Check) and compiles it.
func Compile(cfg Config) (*Policy, error) {
	if ps := Check(cfg); len(ps) > 0 {
		return nil, problemsError(ps)
	}
	p := &Policy{tenants: compileTenants(cfg.Tenants)}
	cookies := cfg.SessionCookies
	if cookies == nil {
		cookies = DefaultSessionCookies()
	}
	for _, c := range cookies {
		p.sessionCookies = append(p.sessionCookies, c)
		p.sessionReasons = append(p.sessionReasons, "cookie:"+c)
	}
	cdnHeader := cmp.Or(cfg.CDNHeader, DefaultCDNHeader)
	for _, rc := range cfg.Rules {
		p.rules = append(p.rules, compileRule(rc, false, cdnHeader))
	}
	p.def = compileRule(cfg.Default, true, cdnHeader)
	if p.tenants.by == TenantByHeader && p.tenants.header != "" {
		p.reads = append(p.reads, p.tenants.header)
	}
	for _, r := range append(p.rules, p.def) {
		p.reads = append(p.reads, r.headers...)
		if r.bypassHeader != "" {
			p.reads = append(p.reads, r.bypassHeader)
		}
	}
	slices.Sort(p.reads)
	p.reads = slices.Compact(p.reads)
	return p, nil
}

// RequestHeaders names (canonical) the request header fields whose
// presence or value Decide reads, besides Host, Cookie and Authorization:
// two requests for the same method, host and path that agree on these,
// and on those three, get the same decision. The gateway relies on it to
// reuse work done for an earlier request (an assembled ESI page). The
// slice is shared: do not modify it.
func (p *Policy) RequestHeaders() []string { return p.reads }

// DefaultPolicy is the zero-config policy: tenant = host, private on
// Authorization or a sessionid/session cookie, nothing else decided.
func DefaultPolicy() *Policy {
	p, err := Compile(Config{})
	if err != nil {
		panic("headers: the zero Config must compile: " + err.Error())
	}
	return p
}

func compileRule(rc RuleConfig, isDefault bool, cdnHeader string) *rule {
	r := &rule{name: ruleName(rc, isDefault), private: rc.Private}
	r.privateReason = "route:" + r.name
	m := rc.Match
	for _, h := range m.Hosts {
		if suf, ok := strings.CutPrefix(h, "*"); ok {
			r.hostSuffixes = append(r.hostSuffixes, suf)
		} else {
			r.hosts = append(r.hosts, h)
		}
	}
	r.tenants = slices.Clone(m.Tenants)
	if m.Path != "" {
		r.path, _ = CompilePath(m.Path) // checked by Check
	}
	r.methods = expandMethods(slices.Clone(m.Methods))
	r.cookies = slices.Clone(m.Cookies)
	for _, h := range m.Headers {
		r.headers = append(r.headers, canonicalHeader(h))
	}
	r.base = Decision{
		Rule:                 r.name,
		TTL:                  clonePtr(rc.TTL),
		AutoTTL:              clonePtr(rc.AutoTTL),
		OverrideOrigin:       rc.Origin == OriginOverride,
		StaleWhileRevalidate: clonePtr(rc.StaleWhileRevalidate),
		StaleIfError:         clonePtr(rc.StaleIfError),
		EarlyRefreshBeta:     clonePtr(rc.EarlyRefreshBeta),
		BrowserCacheControl:  rc.Browser,
		CDNCacheControl:      rc.CDN,
		Locales:              slices.Clone(rc.Locales),
		ESI:                  rc.ESI,
	}
	if rc.CDN != "" {
		r.base.CDNCacheControlHeader = cmp.Or(rc.CDNHeader, cdnHeader)
	}
	var params []string
	if r.path != nil {
		params = r.path.params
	}
	dynamic := false
	for _, s := range rc.Tags {
		t, _ := tagging.ParseTemplate(s, nil) // checked by Check
		b := t.Bind(func(name string) int {
			switch name {
			case "tenant":
				return valTenant
			case "host":
				return valHost
			case "path":
				return valPath
			}
			if i := slices.Index(params, name); i >= 0 {
				return valParams + i
			}
			return -1
		})
		dynamic = dynamic || b.Dynamic()
		r.tags = append(r.tags, b)
		r.tagBytes += len(s) + 16
	}
	if !dynamic {
		for _, t := range r.tags {
			r.staticTags = append(r.staticTags, t.String())
		}
		r.tags = nil
	}
	if c := rc.StaffBypass.Cookie; c != "" {
		r.bypassCookie, r.bypassCookieReason = c, "cookie:"+c
	}
	if h := rc.StaffBypass.Header; h != "" {
		r.bypassHeader = canonicalHeader(h)
		r.bypassHeaderReason = "header:" + r.bypassHeader
	}
	return r
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Decide returns the decision for r. It does no I/O and reads only r's
// method, host, URL path and headers. The slices and pointers in the
// returned Decision may be shared with other decisions of the same rule:
// callers must not modify them.
func (p *Policy) Decide(r *http.Request) Decision {
	host := requestHost(r)
	path := "/"
	if r.URL != nil && r.URL.Path != "" {
		path = r.URL.Path
	}
	tenant, path, resolved := p.tenants.resolve(r.Header, host, path)

	var vals [valParams + MaxPathParams]string
	rl := p.def
	for _, x := range p.rules {
		if x.matches(r, host, tenant, path, (*[MaxPathParams]string)(vals[valParams:])) {
			rl = x
			break
		}
	}

	reason := ""
	switch {
	case len(r.Header["Authorization"]) > 0:
		reason = "authorization"
	default:
		if i := firstCookie(r.Header, p.sessionCookies); i >= 0 {
			reason = p.sessionReasons[i]
		} else if rl.private {
			reason = rl.privateReason
		}
	}
	if reason != "" {
		return Decision{Rule: rl.name, Tenant: tenant, Private: true, PrivateReason: reason, Locales: rl.base.Locales, ESI: rl.base.ESI}
	}
	if !resolved {
		return Decision{Rule: rl.name, Tenant: tenant, Bypass: true, BypassReason: BypassUnresolvedTenant, Locales: rl.base.Locales, ESI: rl.base.ESI}
	}
	if rl.bypassCookie != "" && firstCookie(r.Header, []string{rl.bypassCookie}) >= 0 {
		return Decision{Rule: rl.name, Tenant: tenant, Bypass: true, BypassReason: rl.bypassCookieReason, Locales: rl.base.Locales, ESI: rl.base.ESI}
	}
	if rl.bypassHeader != "" && len(r.Header[rl.bypassHeader]) > 0 {
		return Decision{Rule: rl.name, Tenant: tenant, Bypass: true, BypassReason: rl.bypassHeaderReason, Locales: rl.base.Locales, ESI: rl.base.ESI}
	}

	d := rl.base
	d.Tenant = tenant
	if rl.tags == nil {
		d.Tags = rl.staticTags
		return d
	}
	vals[valTenant], vals[valHost], vals[valPath] = tenant, host, path
	// All tags are written into one buffer and sliced out of one string:
	// two allocations per decision whatever the number of tags.
	var endsBuf [16]int
	ends := endsBuf[:0]
	var b strings.Builder
	b.Grow(rl.tagBytes + 2*len(path))
	for _, t := range rl.tags {
		start := b.Len()
		if !t.Write(&b, vals[:]) {
			// Drop the partial tag: a placeholder had no value or the tag
			// is too long to be purged by name anyway.
			s := b.String()[:start]
			b.Reset()
			b.WriteString(s)
		}
		ends = append(ends, b.Len())
	}
	all := b.String()
	d.Tags = make([]string, 0, len(ends))
	start := 0
	for _, end := range ends {
		if end > start {
			d.Tags = append(d.Tags, all[start:end])
		}
		start = end
	}
	return d
}

func (x *rule) matches(r *http.Request, host, tenant, path string, vals *[MaxPathParams]string) bool {
	if len(x.methods) > 0 && !slices.Contains(x.methods, r.Method) {
		return false
	}
	if len(x.hosts)+len(x.hostSuffixes) > 0 && !slices.Contains(x.hosts, host) &&
		!slices.ContainsFunc(x.hostSuffixes, func(s string) bool { return len(host) > len(s) && strings.HasSuffix(host, s) }) {
		return false
	}
	if len(x.tenants) > 0 && !slices.Contains(x.tenants, tenant) {
		return false
	}
	for _, h := range x.headers {
		if len(r.Header[h]) == 0 {
			return false
		}
	}
	for _, c := range x.cookies {
		if firstCookie(r.Header, []string{c}) < 0 {
			return false
		}
	}
	return x.path == nil || x.path.Match(path, vals)
}

// requestHost is the canonical host of r (uri.HostOrRaw): lower-cased,
// without port or trailing dot.
func requestHost(r *http.Request) string {
	h := r.Host
	if h == "" && r.URL != nil {
		h = r.URL.Host
	}
	return uri.HostOrRaw(h)
}

// firstCookie returns the index in names of the first name present among
// the request's cookies, or -1. It scans the Cookie headers in place rather
// than calling r.Cookie, which parses and allocates every cookie.
func firstCookie(h http.Header, names []string) int {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, _, _ := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
			if i := slices.Index(names, name); i >= 0 {
				return i
			}
		}
	}
	return -1
}

type tenantResolver struct {
	by        string
	header    string // canonical
	domains   []string
	hosts     map[string]string
	wildcards []hostTenant // longest suffix first
	fallback  string
}

type hostTenant struct{ suffix, tenant string }

func compileTenants(tc TenantConfig) tenantResolver {
	tr := tenantResolver{
		by:       cmp.Or(tc.By, TenantByHost),
		fallback: tc.Fallback,
		hosts:    map[string]string{},
	}
	if tc.Header != "" {
		tr.header = canonicalHeader(tc.Header)
	}
	for _, d := range tc.Domains {
		tr.domains = append(tr.domains, "."+d)
	}
	for h, t := range tc.Hosts {
		if suf, ok := strings.CutPrefix(h, "*"); ok {
			tr.wildcards = append(tr.wildcards, hostTenant{suf, t})
		} else {
			tr.hosts[h] = t
		}
	}
	slices.SortFunc(tr.wildcards, func(a, b hostTenant) int {
		return cmp.Or(len(b.suffix)-len(a.suffix), strings.Compare(a.suffix, b.suffix))
	})
	return tr
}

// resolve returns the tenant, the path rules match against, and whether
// the tenant was resolved (false: UnresolvedTenant, bypass the cache).
func (tr *tenantResolver) resolve(h http.Header, host, path string) (string, string, bool) {
	// A host entry names the tenant of a whole host (a custom domain), so
	// in path_prefix mode its paths carry no tenant segment to strip.
	if t, ok := tr.hosts[host]; ok {
		return t, path, true
	}
	for _, w := range tr.wildcards {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return w.tenant, path, true
		}
	}
	var t string
	switch tr.by {
	case TenantByHost:
		t = host
	case TenantBySubdomain:
		for _, d := range tr.domains {
			if rest, ok := strings.CutSuffix(host, d); ok && rest != "" {
				t = rest[strings.LastIndexByte(rest, '.')+1:]
				break
			}
		}
	case TenantByHeader:
		if v := h[tr.header]; len(v) > 0 {
			t = lower(strings.TrimSpace(v[0]))
		}
	case TenantByPathPrefix:
		seg, rest, _ := strings.Cut(path[1:], "/")
		t, path = lower(seg), "/"+rest
	}
	if t == "" || invalidation.ValidateTenant(t) != nil {
		if tr.fallback == "" {
			return UnresolvedTenant, path, false
		}
		t = tr.fallback
	}
	return t, path, true
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
