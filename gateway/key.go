package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
	"github.com/cachegate/cachegate/uri"
)

// Cache keys. GET and HEAD share a key (HEAD is answered from the GET
// entry). The primary key is the tenant, the host when it is not the
// tenant's name (a policy may map several hosts, or a header, to one
// tenant: the origin is sent the host, so the key must hold it), the
// negotiated locale when policy lists locales, and the request target
// (path and query) in its canonical form (uri.Target): the query is not
// reordered, because an origin may give order a meaning. A tenant or host
// never contains '|' and a target always starts with '/', so keys of
// different tenants, hosts or locales cannot collide.
func primaryKey(tenant, host, locale, target string) string {
	var buf [128]byte
	return string(appendPrimaryKey(buf[:0], tenant, host, locale, target))
}

// appendPrimaryKey appends primaryKey's bytes to dst: the hit path builds
// the key in its exchange's buffer instead of allocating it.
func appendPrimaryKey(dst []byte, tenant, host, locale, target string) []byte {
	dst = append(dst, tenant...)
	if host != tenant && host != "" {
		dst = append(dst, '@')
		dst = append(dst, host...)
	}
	dst = append(dst, '|')
	if locale != "" {
		dst = append(dst, locale...)
		dst = append(dst, '|')
	}
	return append(dst, target...)
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

// originTags reads the tags the origin named (tagging.ReportTags:
// Surrogate-Key, Cache-Tag, Edge-Cache-Tag, xkey) and removes those
// headers: they are tenant-local, and a response with thousands of tags is
// not too large to store for their sake. What it rejects (not a valid tag,
// the reserved fallback namespace) is counted and logged, rate limited: a
// tag dropped here is one a purge by that name cannot reach, so it must be
// visible. Tags past the per-response cap fall back to their buckets, and
// are counted.
func (g *Gateway) originTags(x *exchange, h http.Header) []string {
	r := tagging.ReportTags(h)
	tagging.StripTagHeaders(h)
	if r.FellBack > 0 {
		g.m.tagFallbacks.Add(float64(r.FellBack))
	}
	if rejected := r.Invalid; len(rejected) > 0 {
		g.m.rejectedTags.Add(float64(len(rejected)))
		g.tagWarn.Do(func() {
			g.cfg.Logger.Warn("origin tags rejected: a purge by these names cannot reach the response",
				"tenant", x.d.Tenant, "path", pathOf(x.target), "rejected", len(rejected), "first", truncate(rejected[0], 80))
		})
	}
	return r.Tags
}

func pathOf(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// entryTags are the tags stored with a response: the origin's, the
// policy's and the implicit URL and path tags, without duplicates or names
// that are not valid tags. The explicit tags come first: they are also the
// order the CDN's tag header is written in, and the emitter replaces the
// last ones by fallback buckets when the header is over its limits.
//
// The implicit tags go to the CDN too: a provider that cannot purge by URL
// or prefix is purged by these names (package purge), and "path:/" is how
// a whole tenant is purged in a zone tenants share.
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

// sameHostTarget returns the request target named by a Location or
// Content-Location value when it is on the request's host (RFC 9111 4.4:
// a cache must not invalidate other hosts' URIs on their say). host is the
// request's canonical host (uri.Host), and ref's host is compared in that
// form.
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
	if err != nil || uri.HostOrRaw(u.Host) != host {
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
