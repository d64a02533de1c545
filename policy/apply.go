package policy

import (
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/tagging"
)

// CacheControlPrivate is the Cache-Control of every private response.
const CacheControlPrivate = "private, no-store"

// CacheControlBypass is the Cache-Control of staff-bypass responses: no
// cache may keep an editor's preview, though it is not user-private.
const CacheControlBypass = "no-store"

// ApplyResponse rewrites h, the headers of the response to the request d
// was decided for, as the policy promises, and returns the response's
// tenant-local tags (the origin's tag headers, then the rule's tags;
// deduplicated; nil for private and bypass responses). Call it once on every
// response the gateway sends, from the origin or from a layer:
//
//	tags := policy.ApplyResponse(d, resp.Header) // before storing: keep tags with the entry
//	if emitter != nil && !d.Private && !d.Bypass {
//		emitter.Emit(resp.Header, d.Tenant, append(tags, invalidation.ImplicitTags(target)...))
//	}
//
// It always removes the origin's tag headers (they are tenant-local names,
// wrong at a CDN shared by tenants and useless to clients).
//
// Private: Cache-Control "private, no-store"; no CDN-targeted cache-control
// and no Expires; Vary covers what made it private (Authorization for
// "authorization", Cookie for a session cookie, both for a private route).
//
// Bypass: Cache-Control "no-store", no CDN-targeted cache-control, and Vary
// covering the bypass cookie or header, so that no shared cache in front
// keeps the preview (or the answer for an unresolved tenant).
//
// Public: the rule's browser Cache-Control replaces the origin's when set,
// its CDN directives go in the rule's CDN header when set (and the origin's
// CDN-Cache-Control is then dropped),
// and Vary gains Accept-Language when the rule lists locales; otherwise the
// origin's headers pass unchanged.
func ApplyResponse(d Decision, h http.Header) []string {
	if d.Private || d.Bypass {
		tagging.StripTagHeaders(h)
		for _, k := range tagging.CDNControlHeaders() {
			h.Del(k)
		}
		delete(h, "Expires")
		delete(h, "Pragma")
		if d.Private {
			h.Set("Cache-Control", CacheControlPrivate)
			switch {
			case d.PrivateReason == "authorization":
				AddVary(h, "Authorization")
			case strings.HasPrefix(d.PrivateReason, "cookie:"):
				AddVary(h, "Cookie")
			default:
				AddVary(h, "Authorization", "Cookie")
			}
			return nil
		}
		h.Set("Cache-Control", CacheControlBypass)
		if name, ok := strings.CutPrefix(d.BypassReason, "header:"); ok {
			AddVary(h, name)
		} else if strings.HasPrefix(d.BypassReason, "cookie:") {
			AddVary(h, "Cookie")
		}
		return nil
	}
	var tags []string
	if hasTagHeader(h) {
		// A response from a cache layer has none (they are stripped
		// before storing): its hit path skips parsing and deleting them.
		tags = tagging.ParseTags(h)
		tagging.StripTagHeaders(h)
	}
	for _, t := range d.Tags {
		if !containsString(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(d.Locales) > 0 {
		// The cache key holds the negotiated locale even when the origin
		// does not say it varies; caches downstream must know too.
		AddVary(h, "Accept-Language")
	}
	if d.BrowserCacheControl != "" {
		h.Set("Cache-Control", d.BrowserCacheControl)
		// Expires is ignored next to max-age but not by HTTP/1.0 caches;
		// a replaced Cache-Control must not be contradicted by it.
		delete(h, "Expires")
	}
	if d.CDNCacheControl != "" {
		name := d.CDNCacheControlHeader
		if name == "" {
			name = DefaultCDNHeader
		}
		// The rule's CDN directives replace the origin's: a CDN reading
		// CDN-Cache-Control (RFC 9213) would otherwise follow the origin's
		// over the rule's provider-specific field.
		h.Del(tagging.HeaderCDNCacheControl)
		h.Set(name, d.CDNCacheControl)
	}
	return tags
}

func hasTagHeader(h http.Header) bool {
	for _, k := range tagging.TagHeaders() {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// AddVary adds field names to h's Vary unless already covered (by name,
// case-insensitively, or by "*").
func AddVary(h http.Header, names ...string) {
	existing := h.Values("Vary")
	covered := func(name string) bool {
		for _, line := range existing {
			for f := range strings.SplitSeq(line, ",") {
				f = strings.TrimSpace(f)
				if f == "*" || strings.EqualFold(f, name) {
					return true
				}
			}
		}
		return false
	}
	var add []string
	for _, n := range names {
		if !covered(n) && !containsFold(add, n) {
			add = append(add, n)
		}
	}
	if len(add) == 0 {
		return
	}
	all := make([]string, 0, len(existing)+len(add))
	for _, line := range existing {
		if line = strings.TrimSpace(line); line != "" {
			all = append(all, line)
		}
	}
	h.Set("Vary", strings.Join(append(all, add...), ", "))
}

func containsFold(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}
