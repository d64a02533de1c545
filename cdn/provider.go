package cdn

import (
	"fmt"
	"slices"
	"strings"
)

// Provider names, as a config file spells them.
const (
	// None is a config file's "no CDN"; it is not a provider.
	None       = "none"
	Cloudflare = "cloudflare"
	Fastly     = "fastly"
	Akamai     = "akamai"
	Varnish    = "varnish"
)

// Tag headers (canonical, so they may index an http.Header). Origins name
// a response's tags in Surrogate-Key (space separated) or Cache-Tag (comma
// separated); each provider reads its own.
const (
	HeaderSurrogateKey = "Surrogate-Key"
	HeaderCacheTag     = "Cache-Tag"
	HeaderEdgeCacheTag = "Edge-Cache-Tag"
	HeaderXkey         = "Xkey"
)

// Targeted cache-control fields (RFC 9213 and the providers' own), in
// their usual spelling: use them through http.Header's Set, Get and Del,
// which canonicalize ("Cdn-Cache-Control").
const (
	HeaderCDNCacheControl        = "CDN-Cache-Control"
	HeaderCloudflareCacheControl = "Cloudflare-CDN-Cache-Control"
	HeaderSurrogateControl       = "Surrogate-Control"
	HeaderAkamaiCacheControl     = "Akamai-Cache-Control"
	HeaderEdgeControl            = "Edge-Control"
)

// Documented limits the purge providers default to and tag emission keeps
// within.
const (
	// CloudflarePurgeItemsPerCall bounds the tags, URLs, prefixes or hosts
	// of one purge call (plans may lower the URLs: Plan.URLsPerCall).
	CloudflarePurgeItemsPerCall = 100
	// CloudflareMaxTagBytes is the longest tag Cloudflare can purge.
	CloudflareMaxTagBytes = 1024
	// FastlyPurgeKeysPerCall bounds the surrogate keys of one batch purge.
	FastlyPurgeKeysPerCall = 256
	// FastlyMaxKeyBytes is the longest surrogate key.
	FastlyMaxKeyBytes = 1024
	// VarnishMaxHeaderBytes keeps a header under Varnish's default
	// http_req_hdr_len and http_resp_hdr_len (8 KB) with room for the
	// header's name: a longer response header fails the fetch (503).
	VarnishMaxHeaderBytes = 8000
)

// Facts are what one provider reads and accepts.
type Facts struct {
	Name string
	// TagHeader carries a response's tags, separated by TagSep (',' or ' ').
	TagHeader string
	TagSep    byte
	// MaxTagHeaderBytes bounds TagHeader's value; 0: no documented limit.
	MaxTagHeaderBytes int
	// MaxTagBytes bounds one tag, including the tenant prefix.
	MaxTagBytes int
	// MaxTags bounds the number of tags; 0: no documented limit.
	MaxTags int
	// CacheControlHeader is the targeted field the provider reads CDN
	// directives from, the default of cdn.header when it is the only
	// provider; "" for Varnish, which the shipped VCL drives with
	// Cache-Control so that the directives pass through it to a CDN above.
	CacheControlHeader string
	// NoStoreHeaders receive "no-store" when a response cannot be tagged
	// at all, so the provider does not keep what no purge could reach.
	NoStoreHeaders []string
	// Purges says cachegate has a purger for the provider (Akamai: not
	// yet; its tag header is still written).
	Purges bool
}

// providers in the order config files list them.
var providers = []Facts{
	{Name: Cloudflare, TagHeader: HeaderCacheTag, TagSep: ',', MaxTagHeaderBytes: 16 * 1024, MaxTagBytes: CloudflareMaxTagBytes,
		CacheControlHeader: HeaderCloudflareCacheControl,
		NoStoreHeaders:     []string{HeaderCloudflareCacheControl, HeaderCDNCacheControl}, Purges: true},
	// Fastly ignores keys past the header limit silently.
	{Name: Fastly, TagHeader: HeaderSurrogateKey, TagSep: ' ', MaxTagHeaderBytes: 16384, MaxTagBytes: FastlyMaxKeyBytes,
		CacheControlHeader: HeaderSurrogateControl,
		NoStoreHeaders:     []string{HeaderSurrogateControl, HeaderCDNCacheControl}, Purges: true},
	{Name: Akamai, TagHeader: HeaderEdgeCacheTag, TagSep: ',', MaxTagBytes: 128, MaxTags: 128,
		CacheControlHeader: HeaderCDNCacheControl,
		NoStoreHeaders:     []string{HeaderEdgeControl, HeaderAkamaiCacheControl, HeaderCDNCacheControl}},
	{Name: Varnish, TagHeader: HeaderXkey, TagSep: ' ', MaxTagHeaderBytes: VarnishMaxHeaderBytes, MaxTagBytes: 1024,
		NoStoreHeaders: []string{HeaderSurrogateControl, HeaderCDNCacheControl}, Purges: true},
}

// Names returns the providers' names, in the order config files list them
// (a fresh slice).
func Names() []string {
	out := make([]string, len(providers))
	for i, p := range providers {
		out[i] = p.Name
	}
	return out
}

// Lookup returns the facts of the provider called name.
func Lookup(name string) (Facts, error) {
	i := slices.IndexFunc(providers, func(p Facts) bool { return p.Name == name })
	if i < 0 {
		return Facts{}, fmt.Errorf("unknown CDN provider %q (%s)", name, strings.Join(Names(), ", "))
	}
	f := providers[i]
	f.NoStoreHeaders = slices.Clone(f.NoStoreHeaders)
	return f, nil
}
