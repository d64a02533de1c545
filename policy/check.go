package policy

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

// Check returns every problem of cfg (nil when it compiles). The
// config loader calls it to place each problem on its line; Compile
// calls it and refuses a policy with problems.
func Check(cfg Config) []Problem {
	var out []Problem
	at := func(rule int) func(field string, idx int, format string, a ...any) {
		return func(field string, idx int, format string, a ...any) {
			out = append(out, Problem{Rule: rule, Field: field, Index: idx, Msg: fmt.Sprintf(format, a...)})
		}
	}
	pol := at(ProblemPolicy)
	checkTenantConfig(cfg.Tenants, pol)
	for i, c := range cfg.SessionCookies {
		if !validToken(c) {
			pol("session_cookies", i, "invalid cookie name %q", c)
		}
	}
	if cfg.CDNHeader != "" {
		checkCDNHeader(cfg.CDNHeader, "cdn_header", pol)
	}
	names := map[string]int{}
	for i, rc := range cfg.Rules {
		add := at(i)
		checkRule(rc, false, add)
		name := ruleName(rc, false)
		if j, dup := names[name]; dup {
			add("name", -1, "rule name %q is already used by rule %d", name, j+1)
		} else {
			names[name] = i
		}
	}
	checkRule(cfg.Default, true, at(ProblemDefaultRule))
	// Unreachable rules, only among rules whose matches compiled.
	for j := range cfg.Rules {
		for i := 0; i < j; i++ {
			if matchCovers(cfg.Rules[i].Match, cfg.Rules[j].Match) {
				at(j)("match", -1, "unreachable: rule %d (%s) before it matches every request this rule matches",
					i+1, ruleName(cfg.Rules[i], false))
				break
			}
		}
	}
	return out
}

func checkOrigin(rc RuleConfig, add func(field string, idx int, format string, a ...any)) {
	switch rc.Origin {
	case "", OriginRespect:
	case OriginOverride:
		if rc.TTL == nil && !rc.Private {
			add("origin", -1, "origin: override needs a ttl (the lifetime that replaces the origin's)")
		}
	default:
		add("origin", -1, "origin must be %q or %q, got %q", OriginRespect, OriginOverride, rc.Origin)
	}
}

// Warnings returns what in cfg compiles but cannot do what it says:
// where a rule's TTL cannot take effect whatever the origin sends.
// check-config prints them. (Under origin: respect an origin's no-store,
// private or no-cache also beats a TTL; that depends on the origin, so it
// is documented rather than warned about on every rule.)
func Warnings(cfg Config, maxTTL time.Duration) []Problem {
	var out []Problem
	warn := func(rule int, rc RuleConfig) {
		if rc.TTL == nil || rc.Private {
			return
		}
		add := func(format string, a ...any) {
			out = append(out, Problem{Rule: rule, Field: "ttl", Index: -1, Msg: fmt.Sprintf(format, a...)})
		}
		switch {
		case *rc.TTL == 0:
			add("ttl 0 stores nothing; leave ttl out to follow the origin")
		case maxTTL > 0 && *rc.TTL > maxTTL:
			add("ttl %v is longer than the gateway keeps anything (%v)", *rc.TTL, maxTTL)
		}
		if len(rc.Match.Methods) > 0 && !slices.Contains(rc.Match.Methods, "GET") && !slices.Contains(rc.Match.Methods, "HEAD") {
			add("the rule matches no GET or HEAD request, which are the only ones stored")
		}
	}
	for i, rc := range cfg.Rules {
		warn(i, rc)
	}
	warn(ProblemDefaultRule, cfg.Default)
	return out
}

func ruleName(rc RuleConfig, isDefault bool) string {
	switch {
	case rc.Name != "":
		return rc.Name
	case isDefault:
		return DefaultRuleName
	case rc.Match.Path != "":
		return rc.Match.Path
	}
	return "*"
}

func checkCDNHeader(h, field string, add func(string, int, string, ...any)) {
	switch {
	case !validToken(h):
		add(field, -1, "invalid header name %q", h)
	case strings.EqualFold(h, "Cache-Control"):
		add(field, -1, "CDN directives cannot go in Cache-Control (that is the browser setting)")
	}
}

func checkRule(rc RuleConfig, isDefault bool, add func(field string, idx int, format string, a ...any)) {
	if n := rc.Name; n != "" {
		if len(n) > 100 || strings.ContainsFunc(n, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			add("name", -1, "rule name must be at most 100 printable characters")
		}
	}
	m := rc.Match
	if isDefault && !m.isZero() {
		add("match", -1, "the default rule has no match (it applies when no rule matched)")
	}
	for i, h := range m.Hosts {
		if !validHostPattern(h) {
			add("match.host", i, "invalid host %q (lower-case, no port; *.example.com for subdomains)", h)
		}
	}
	for i, t := range m.Tenants {
		if err := invalidation.ValidateTenant(t); err != nil {
			add("match.tenant", i, "%v", err)
		}
	}
	var params []string
	if m.Path != "" {
		p, err := CompilePath(m.Path)
		if err != nil {
			add("match.path", -1, "%v", err)
		} else {
			params = p.params
		}
	}
	for i, meth := range m.Methods {
		if !knownMethods[meth] {
			if knownMethods[strings.ToUpper(meth)] {
				add("match.methods", i, "method %q must be upper case (%s)", meth, strings.ToUpper(meth))
			} else {
				add("match.methods", i, "unknown method %q", meth)
			}
		}
	}
	for i, c := range m.Cookies {
		if !validToken(c) {
			add("match.cookie", i, "invalid cookie name %q", c)
		}
	}
	for i, h := range m.Headers {
		if !validToken(h) {
			add("match.header", i, "invalid header name %q", h)
		}
	}
	checkOrigin(rc, add)
	if rc.ESI != ESIOrigin && rc.ESI != ESIAssemble && rc.ESI != ESIPass {
		add("esi", -1, "esi must be %q or %q (or absent: as the origin's Surrogate-Control says), got %q", ESIAssemble, ESIPass, rc.ESI)
	}
	if rc.Private {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ttl", rc.TTL != nil}, {"browser", rc.Browser != ""}, {"cdn", rc.CDN != ""},
			{"cdn_header", rc.CDNHeader != ""}, {"stale_while_revalidate", rc.StaleWhileRevalidate != nil},
			{"stale_if_error", rc.StaleIfError != nil}, {"tags", len(rc.Tags) > 0},
			{"staff_bypass", rc.StaffBypass != (StaffBypass{})}, {"origin", rc.Origin != ""},
		} {
			if f.set {
				add(f.name, -1, "a private route is never shared and always answered private, no-store: %s conflicts with private: true", f.name)
			}
		}
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
	}{{"ttl", rc.TTL}, {"stale_while_revalidate", rc.StaleWhileRevalidate}, {"stale_if_error", rc.StaleIfError}} {
		if d.v != nil && *d.v < 0 {
			add(d.name, -1, "must not be negative")
		}
	}
	if a := rc.AutoTTL; a != nil {
		d := a.WithDefaults()
		switch {
		case rc.TTL != nil:
			add("auto_ttl", -1, "bounds a learned TTL: set ttl: auto, not a duration")
		case a.Min < 0 || a.Max < 0:
			add("auto_ttl", -1, "min and max must not be negative")
		case d.Min > d.Max:
			add("auto_ttl", -1, "min %v is above max %v", d.Min, d.Max)
		case a.Fraction < 0 || a.Fraction > 1 || math.IsNaN(a.Fraction):
			add("auto_ttl", -1, "fraction must be from 0 to 1")
		}
	}
	if b := rc.EarlyRefreshBeta; b != nil && (*b < 0 || math.IsNaN(*b) || math.IsInf(*b, 0)) {
		add("early_refresh_beta", -1, "must be a number from 0 (off) up")
	}
	var browser ccInfo
	if rc.Browser != "" {
		info, err := parseConfiguredCC(rc.Browser, false)
		if err != nil {
			add("browser", -1, "%v", err)
		}
		browser = info
	}
	if rc.CDN != "" {
		if _, err := parseConfiguredCC(rc.CDN, true); err != nil {
			add("cdn", -1, "%v", err)
		} else if browser.names["private"] {
			add("cdn", -1, "browser says private but cdn lets the CDN store the response; drop one")
		}
	}
	if rc.CDNHeader != "" {
		if rc.CDN == "" && !rc.Private {
			add("cdn_header", -1, "cdn_header without cdn directives")
		}
		checkCDNHeader(rc.CDNHeader, "cdn_header", add)
	}
	known := func(name string) bool {
		return slices.Contains(reservedPlaceholders[:], name) || slices.Contains(params, name)
	}
	for i, s := range rc.Tags {
		t, err := tagging.ParseTemplate(s, known)
		if err != nil {
			msg := err.Error()
			var names []string
			names = append(names, reservedPlaceholders[:]...)
			names = append(names, params...)
			msg += " (known: {" + strings.Join(names, "}, {") + "})"
			add("tags", i, "%s", msg)
			continue
		}
		if strings.HasPrefix(t.LiteralPrefix(), tagging.FallbackTagPrefix) {
			add("tags", i, "tags starting with %q are reserved for cachegate's CDN fallback tags", tagging.FallbackTagPrefix)
		}
		if isDefault && slices.ContainsFunc(t.Placeholders(), func(n string) bool { return slices.Contains(params, n) }) {
			add("tags", i, "the default rule has no path parameters")
		}
	}
	seen := map[string]bool{}
	for i, l := range rc.Locales {
		switch {
		case !validLocale(l):
			add("locales", i, "invalid locale %q (a language tag such as en, de or pt-BR)", l)
		case seen[strings.ToLower(l)]:
			add("locales", i, "locale %q listed twice", l)
		}
		seen[strings.ToLower(l)] = true
	}
	if c := rc.StaffBypass.Cookie; c != "" && !validToken(c) {
		add("staff_bypass.cookie", -1, "invalid cookie name %q", c)
	}
	if h := rc.StaffBypass.Header; h != "" && !validToken(h) {
		add("staff_bypass.header", -1, "invalid header name %q", h)
	}
}

// matchCovers reports whether a matches every request b matches; false
// when it cannot tell, so only sure shadowing is reported.
func matchCovers(a, b MatchConfig) bool {
	if !setCovers(a.Hosts, b.Hosts, hostCovers) || !setCovers(a.Tenants, b.Tenants, strEq) {
		return false
	}
	if !setCovers(expandMethods(a.Methods), expandMethods(b.Methods), strEq) {
		return false
	}
	// Fewer required cookies/headers match more requests.
	for _, c := range a.Cookies {
		if !slices.Contains(b.Cookies, c) {
			return false
		}
	}
	for _, h := range a.Headers {
		if !slices.ContainsFunc(b.Headers, func(x string) bool { return strings.EqualFold(x, h) }) {
			return false
		}
	}
	if a.Path == "" {
		return true
	}
	pa, err := CompilePath(a.Path)
	if err != nil {
		return false
	}
	bPath := b.Path
	if bPath == "" {
		bPath = "/"
	}
	pb, err := CompilePath(bPath)
	if err != nil {
		return false
	}
	return pa.Covers(pb)
}

// setCovers: an empty a matches anything; otherwise every element of a
// non-empty b must be covered by some element of a.
func setCovers(a, b []string, covers func(x, y string) bool) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for _, y := range b {
		if !slices.ContainsFunc(a, func(x string) bool { return covers(x, y) }) {
			return false
		}
	}
	return true
}

func strEq(x, y string) bool { return x == y }

func hostCovers(x, y string) bool {
	if x == y {
		return true
	}
	if suf, ok := strings.CutPrefix(x, "*"); ok {
		return strings.HasSuffix(y, suf) && len(y) > len(suf)
	}
	return false
}

func expandMethods(ms []string) []string {
	if slices.Contains(ms, "GET") && !slices.Contains(ms, "HEAD") {
		return append(slices.Clone(ms), "HEAD")
	}
	return ms
}

// problemsError joins problems into one error for Compile.
func problemsError(ps []Problem) error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return fmt.Errorf("invalid policy: %w", errors.Join(errs...))
}
