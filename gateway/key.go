package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/invalidation"
)

// Cache keys. GET and HEAD share a key (HEAD is answered from the GET
// entry). The primary key is the tenant, the negotiated locale when policy
// lists locales, and the request target (path and query) exactly as sent:
// the query is not reordered, because an origin may give order a meaning,
// and because a purge by URL names the target as the client sent it. A
// tenant never contains '|' and a target always starts with '/', so keys of
// different tenants or locales cannot collide.
func primaryKey(tenant, locale, target string) string {
	if locale == "" {
		return tenant + "|" + target
	}
	return tenant + "|" + locale + "|" + target
}

// variantKey is where the response selected by the request's (normalized)
// values of the Vary'd headers is stored, next to the variant record under
// the primary key.
func variantKey(primary string, vary []string, h http.Header, locales []string) string {
	var b strings.Builder
	b.WriteString(primary)
	b.WriteString("|v")
	for i, name := range vary {
		if i == 0 {
			b.WriteByte('|')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(strings.ToLower(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(headers.NormalizeVaryValue(name, h, locales)))
	}
	return b.String()
}

// Tag headers an origin names a response's tags in. They are removed from
// what is stored and from what the client sees; the TagEmitter writes the
// CDN's own header.
var tagHeaders = []string{"Surrogate-Key", "Cache-Tag"}

// originTags reads a response's tags: Surrogate-Key is space separated,
// Cache-Tag comma separated.
func originTags(h http.Header) []string {
	var tags []string
	for _, line := range h["Surrogate-Key"] {
		tags = append(tags, strings.Fields(line)...)
	}
	for _, line := range h["Cache-Tag"] {
		for _, t := range strings.Split(line, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// entryTags are the tags stored with a response: the origin's, the
// policy's and the implicit URL and path tags, without duplicates or names
// that are not valid tags. The explicit tags come first.
func entryTags(origin, policy []string, target string) []string {
	implicit := invalidation.ImplicitTags(target)
	out := make([]string, 0, len(origin)+len(policy)+len(implicit))
	for _, list := range [][]string{origin, policy, implicit} {
		for _, t := range list {
			if invalidation.ValidateTag(t) == nil && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// explicitTags drops the implicit url:/path: tags, which name the response
// in the gateway's own layers only; a CDN is purged by URL instead.
func explicitTags(tags []string) []string {
	n := 0
	for _, t := range tags {
		if !isImplicit(t) {
			n++
		}
	}
	if n == len(tags) {
		return tags
	}
	out := make([]string, 0, n)
	for _, t := range tags {
		if !isImplicit(t) {
			out = append(out, t)
		}
	}
	return out
}

func isImplicit(t string) bool { return strings.HasPrefix(t, "url:") || strings.HasPrefix(t, "path:") }

// sameHostTarget returns the request target named by a Location or
// Content-Location value when it is on the request's host (RFC 9111 4.4:
// a cache must not invalidate other hosts' URIs on their say).
func sameHostTarget(host, target, ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	base, err := url.Parse(target)
	if err != nil {
		return "", false
	}
	base.Scheme, base.Host = "http", host
	u, err := base.Parse(ref)
	if err != nil || !strings.EqualFold(u.Host, host) {
		return "", false
	}
	return u.RequestURI(), true
}

// headerBytes approximates a header's size on the wire.
func headerBytes(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
