package tagging

import (
	"math/bits"
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/invalidation"
)

// Tag headers (canonical, so they may index an http.Header). Origins name a response's tags in
// Surrogate-Key (space separated) or Cache-Tag (comma separated); CDNs read
// their own: Cloudflare Cache-Tag, Fastly Surrogate-Key, Akamai
// Edge-Cache-Tag, Varnish's xkey vmod xkey.
// The names are cdn's, which owns the providers' facts.
const (
	HeaderSurrogateKey = cdn.HeaderSurrogateKey
	HeaderCacheTag     = cdn.HeaderCacheTag
	HeaderEdgeCacheTag = cdn.HeaderEdgeCacheTag
	HeaderXkey         = cdn.HeaderXkey
)

// Targeted cache-control headers (RFC 9213 and the providers' own), in their
// usual spelling: use them through http.Header's Set, Get and Del, which
// canonicalize ("Cdn-Cache-Control").
const (
	HeaderCDNCacheControl        = cdn.HeaderCDNCacheControl
	HeaderCloudflareCacheControl = cdn.HeaderCloudflareCacheControl
	HeaderSurrogateControl       = cdn.HeaderSurrogateControl
	HeaderAkamaiCacheControl     = cdn.HeaderAkamaiCacheControl
	HeaderEdgeControl            = cdn.HeaderEdgeControl
)

// MaxResponseTags bounds how many of one response's tags are kept by name,
// so a hostile origin header cannot grow an entry's tag set (and the work
// of every check of it) without limit. Past it, each tag is replaced by its
// fallback bucket (FallbackTag), which every purge of the tag also
// invalidates (PurgeTags): the response stays stored and purgeable, with at
// most MaxResponseTags+FallbackBuckets tags.
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
	return ReportTags(h).Tags
}

// ParseTagsReport is ParseTags that also returns what it dropped; see
// ReportTags.
func ParseTagsReport(h http.Header) (tags, invalid []string) {
	r := ReportTags(h)
	return r.Tags, r.Invalid
}

// Report is what ReportTags read from a response's tag headers.
type Report struct {
	// Tags are the tags kept: the first MaxResponseTags valid ones by
	// name, then the fallback buckets of the rest.
	Tags []string
	// Invalid are the tags dropped, at most MaxResponseTags of them: tags
	// that fail invalidation.ValidateTag and tags in cachegate's reserved
	// fallback namespace (FallbackTagPrefix). A dropped tag means a purge
	// by that name cannot reach the response, so the caller logs or counts
	// them.
	Invalid []string
	// FellBack counts the tags past MaxResponseTags, replaced by their
	// fallback bucket; the caller counts them too.
	FellBack int
}

// ReportTags reads the tags the origin named in h.
func ReportTags(h http.Header) Report {
	var r Report
	seen := map[string]struct{}{}
	var buckets uint64 // fallback buckets already in r.Tags
	add := func(t string) {
		t = strings.TrimSpace(t)
		if t == "" {
			return
		}
		if _, dup := seen[t]; dup {
			return
		}
		seen[t] = struct{}{}
		switch {
		case invalidation.ValidateTag(t) != nil || strings.HasPrefix(t, FallbackTagPrefix):
			if len(r.Invalid) < MaxResponseTags {
				r.Invalid = append(r.Invalid, t)
			}
		case len(r.Tags)-bits.OnesCount64(buckets) < MaxResponseTags:
			r.Tags = append(r.Tags, t)
		default:
			r.FellBack++
			if b := bucketOf(t); buckets&(1<<b) == 0 {
				buckets |= 1 << b
				r.Tags = append(r.Tags, fallbackName(b))
			}
		}
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
	return r
}
