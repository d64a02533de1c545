// Package gateway is cachegate's data plane: an HTTP caching reverse proxy
// with RFC 9111 shared-cache semantics in front of one origin, serving from a
// stack of Store layers (in-process L1, Redis L2).
//
// The request path, by file:
//   - gateway.go: New, the echo catch-all Handler and ServeHTTP, which sorts
//     requests into bypass (private), method (not GET/HEAD) and cacheable.
//   - lookup.go: L1 then L2, variant records, freshness per RFC 9111 4.2
//     and RFC 5861 with the policy's overrides.
//   - proxy.go: the one shared httputil.ReverseProxy (Rewrite, ErrorHandler)
//     and the per-request exchange its hooks read from the context.
//   - fill.go: ModifyResponse: what may be stored, the fill of each layer,
//     revalidation (304) and stale-if-error, unsafe-method invalidation.
//   - serve.go: answering from an entry (Age, 304 for client validators,
//     HEAD) and clientHeaders, the one place every response's header is
//     rewritten per decision: headers.ApplyResponse (Cache-Control, CDN
//     directives, Vary, tag headers out), the CDN's tag header through the
//     TagEmitter, Server and Via.
//   - coalesce.go: one fetch per key per instance (flights), the
//     FillLock across instances, background stale-while-revalidate.
//   - invalidate.go: the invalidation API the coordinator calls.
//
// Invalidation uses generations: a fill stamps each layer's copy with the
// generation that layer returned from a Get done before the origin fetch,
// so a fetch that raced an invalidation stores a dead entry. Invalidations
// go to L2 before L1 so an L2 hit cannot refill L1 with what it just lost.
//
// Choices worth knowing:
//   - The cache key is tenant, negotiated locale (when policy lists
//     locales) and the request target exactly as sent; query order is kept.
//   - Vary'd responses are stored under a variant key next to a variant
//     record; Accept-Encoding is bucketed (br+gzip, gzip, br, identity) and
//     Accept-Language negotiated to the policy's locales, and those are the
//     values the origin is sent, so one URL has a handful of variants.
//     Without locales, Accept-Language (like Accept and Accept-Charset) is
//     keyed as a normalised weighted list (headers.NormalizeVaryValue), so
//     equivalent spellings share one variant.
//   - No heuristic freshness: a response without max-age, s-maxage or
//     Expires is stored only when policy sets a TTL.
//   - A client's no-cache or max-age=0 is honoured with a conditional
//     request using the stored validators; client max-stale is ignored.
//   - HEAD misses are fetched with GET so they fill the entry GET uses.
//   - A layer error is a miss for that layer, logged at most every 10 s
//     per layer; the client never sees it.
//   - Coalesced waiters get only a stored (hence shareable) entry, or the
//     leader's origin failure (502/504, or stale where stale-if-error
//     allows; across instances through the fill lock, which its holder keeps
//     alive while fetching and leaves marked failed for a second). A leader whose answer was its own (a range, If-Match,
//     If-Unmodified-Since, If-Range, request no-store, a client that left,
//     another variant) sends its waiters to coalesce again behind one of
//     them. Anything else (private, Set-Cookie, not storable) sends them
//     to the origin on their own: nothing private is handed out.
//   - The gateway never tells a client or CDN to share what it would not
//     store itself: a response with Set-Cookie or an origin's "private"
//     leaves as "private, no-store" whatever the rule says; an origin's
//     no-store or an uncacheable status keeps the origin's Cache-Control.
//   - The CDN gets a response's explicit tags, then its implicit url: and
//     path: tags, which purges by URL or prefix use where the CDN cannot
//     purge those directly.
//   - A response with more than headers.MaxResponseTags origin tags is
//     still stored: the tags past the cap are stored as their fallback
//     bucket (counted in cachegate_origin_tag_fallbacks_total), and every
//     invalidation of the layers also invalidates each tag's bucket; the
//     CDN header falls back the same way within the provider's limits.
package gateway
