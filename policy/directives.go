package policy

import (
	"fmt"
	"strings"

	"github.com/cachegate/cachegate/internal/suggest"
)

// ccArg says whether a response directive takes an argument.
type ccArg uint8

const (
	ccNoArg ccArg = iota
	ccOptionalArg
	ccSeconds
)

// responseDirectives are the Cache-Control response directives of RFC 9111
// section 5.2.2, RFC 5861 and RFC 8246 that a policy may configure.
var responseDirectives = map[string]ccArg{
	"public":                 ccNoArg,
	"private":                ccOptionalArg,
	"no-cache":               ccOptionalArg,
	"no-store":               ccNoArg,
	"no-transform":           ccNoArg,
	"must-revalidate":        ccNoArg,
	"proxy-revalidate":       ccNoArg,
	"must-understand":        ccNoArg,
	"immutable":              ccNoArg,
	"max-age":                ccSeconds,
	"s-maxage":               ccSeconds,
	"stale-while-revalidate": ccSeconds,
	"stale-if-error":         ccSeconds,
}

// ccInfo is what the policy checks need to know of a configured value.
type ccInfo struct {
	names map[string]bool
}

// CheckCacheControl validates a Cache-Control value that a rule sends to
// browsers (forCDN false) or, as CDN-Cache-Control or a provider's targeted
// header, to the CDN (forCDN true). Unlike a cache reading an origin's
// header, which must ignore unknown directives, a configured value with an
// unknown directive is almost always a typo, so it is an error here. This is
// a strict validator of what an operator writes, not the lenient parser the
// gateway applies to origin responses.
func CheckCacheControl(s string, forCDN bool) error {
	_, err := parseConfiguredCC(s, forCDN)
	return err
}

func parseConfiguredCC(s string, forCDN bool) (ccInfo, error) {
	info := ccInfo{names: map[string]bool{}}
	items, err := splitDirectives(s)
	if err != nil {
		return info, err
	}
	if len(items) == 0 {
		return info, fmt.Errorf("cache-control %q has no directives", s)
	}
	for _, it := range items {
		name, val, hasVal := strings.Cut(it, "=")
		name = strings.ToLower(strings.TrimSpace(name))
		val = strings.TrimSpace(val)
		kind, ok := responseDirectives[name]
		if !ok {
			msg := fmt.Sprintf("cache-control %q: unknown directive %q", s, name)
			if sug := closest(name, directiveNames()); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			return info, fmt.Errorf("%s", msg)
		}
		if info.names[name] {
			return info, fmt.Errorf("cache-control %q: directive %q appears twice", s, name)
		}
		info.names[name] = true
		switch kind {
		case ccNoArg:
			if hasVal {
				return info, fmt.Errorf("cache-control %q: %s takes no value", s, name)
			}
		case ccSeconds:
			if !hasVal || val == "" || strings.Trim(val, "0123456789") != "" {
				return info, fmt.Errorf("cache-control %q: %s needs a number of seconds (%s=60)", s, name, name)
			}
			if len(val) > 10 {
				return info, fmt.Errorf("cache-control %q: %s=%s is too large", s, name, val)
			}
		case ccOptionalArg:
			if hasVal && !(len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"') {
				return info, fmt.Errorf("cache-control %q: the value of %s must be a quoted list of header names", s, name)
			}
		}
	}
	has := info.names
	if has["no-store"] {
		for _, d := range []string{"max-age", "s-maxage", "public", "immutable", "stale-while-revalidate", "stale-if-error"} {
			if has[d] {
				return info, fmt.Errorf("cache-control %q: no-store conflicts with %s", s, d)
			}
		}
	}
	if has["public"] && has["private"] {
		return info, fmt.Errorf("cache-control %q: public conflicts with private", s)
	}
	if forCDN && has["private"] {
		return info, fmt.Errorf("cache-control %q: private in a CDN directive; mark the route private instead", s)
	}
	return info, nil
}

// splitDirectives splits on commas outside quoted strings and drops empty
// items, which RFC 9110's list syntax allows.
func splitDirectives(s string) ([]string, error) {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if it := strings.TrimSpace(s[start:i]); it != "" {
				out = append(out, it)
			}
			start = i + 1
		case c < ' ' && c != '\t' || c == 0x7f:
			return nil, fmt.Errorf("cache-control %q: control character", s)
		}
	}
	if quoted {
		return nil, fmt.Errorf("cache-control %q: unterminated quoted string", s)
	}
	if it := strings.TrimSpace(s[start:]); it != "" {
		out = append(out, it)
	}
	return out, nil
}

func directiveNames() []string {
	out := make([]string, 0, len(responseDirectives))
	for k := range responseDirectives {
		out = append(out, k)
	}
	return out
}

// closest returns the candidate within edit distance 2 of s (the nearest),
// or "" when none is near enough to be a likely typo.
func closest(s string, candidates []string) string {
	return suggest.Closest(s, candidates, 3)
}
