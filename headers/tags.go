package headers

import (
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
)

// Tag headers (canonical, so they may index an http.Header). Origins name a response's tags in
// Surrogate-Key (space separated) or Cache-Tag (comma separated); CDNs read
// their own: Cloudflare Cache-Tag, Fastly Surrogate-Key, Akamai
// Edge-Cache-Tag, Varnish's xkey vmod xkey.
const (
	HeaderSurrogateKey = "Surrogate-Key"
	HeaderCacheTag     = "Cache-Tag"
	HeaderEdgeCacheTag = "Edge-Cache-Tag"
	HeaderXkey         = "Xkey"
)

// Targeted cache-control headers (RFC 9213 and the providers' own), in their
// usual spelling: use them through http.Header's Set, Get and Del, which
// canonicalize ("Cdn-Cache-Control").
const (
	HeaderCDNCacheControl        = "CDN-Cache-Control"
	HeaderCloudflareCacheControl = "Cloudflare-CDN-Cache-Control"
	HeaderSurrogateControl       = "Surrogate-Control"
	HeaderAkamaiCacheControl     = "Akamai-Cache-Control"
	HeaderEdgeControl            = "Edge-Control"
)

// MaxResponseTags bounds how many tags ParseTags takes from one response,
// so a hostile origin header cannot grow an entry's tag set without limit.
const MaxResponseTags = 1024

// TagHeaders returns the tag header names (fresh slice).
func TagHeaders() []string {
	return []string{HeaderSurrogateKey, HeaderCacheTag, HeaderEdgeCacheTag, HeaderXkey}
}

// CDNControlHeaders returns the targeted cache-control header names.
func CDNControlHeaders() []string {
	return []string{HeaderCDNCacheControl, HeaderCloudflareCacheControl, HeaderSurrogateControl,
		HeaderAkamaiCacheControl, HeaderEdgeControl}
}

// InternalHeaders returns the headers that must never reach an end user
// directly: the tag headers and the CDN-targeted cache-control headers.
func InternalHeaders() []string { return append(TagHeaders(), CDNControlHeaders()...) }

// StripTagHeaders deletes every tag header from h. The gateway calls it on
// every response after reading the origin's tags: the origin's names are
// tenant-local and must not reach a CDN shared by tenants, nor a client.
func StripTagHeaders(h http.Header) {
	for _, k := range TagHeaders() {
		delete(h, k)
	}
}

// StripInternalHeaders deletes InternalHeaders from h, for responses that go
// straight to end users (no CDN in front of the gateway).
func StripInternalHeaders(h http.Header) {
	for _, k := range InternalHeaders() {
		h.Del(k)
	}
}

// ParseTags returns the tags the origin named in h (Surrogate-Key,
// Cache-Tag, Edge-Cache-Tag, xkey), trimmed, deduplicated, in order of
// appearance, without the invalid ones; see ParseTagsReport.
func ParseTags(h http.Header) []string {
	tags, _ := ParseTagsReport(h)
	return tags
}

// ParseTagsReport is ParseTags that also returns what it dropped: tags that
// fail invalidation.ValidateTag, tags in cachegate's reserved fallback
// namespace (FallbackTagPrefix), and tags past MaxResponseTags. The caller
// logs or counts them; a dropped tag means a purge by that name cannot reach
// the response, so it must be visible.
func ParseTagsReport(h http.Header) (tags, invalid []string) {
	seen := map[string]struct{}{}
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t == "" {
			return
		}
		if _, dup := seen[t]; dup {
			return
		}
		seen[t] = struct{}{}
		if invalidation.ValidateTag(t) != nil || strings.HasPrefix(t, FallbackTagPrefix) || len(tags) >= MaxResponseTags {
			if len(invalid) < MaxResponseTags {
				invalid = append(invalid, t)
			}
			return
		}
		tags = append(tags, t)
	}
	for _, f := range []struct {
		name  string
		comma bool
	}{{HeaderSurrogateKey, false}, {HeaderCacheTag, true}, {HeaderEdgeCacheTag, true}, {HeaderXkey, false}} {
		for _, v := range h[f.name] {
			if f.comma {
				for t := range strings.SplitSeq(v, ",") {
					add(t)
				}
			} else {
				for _, t := range strings.Fields(v) {
					add(t)
				}
			}
		}
	}
	return tags, invalid
}
