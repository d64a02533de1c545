// Package gateway is cachegate's data plane: an HTTP caching reverse proxy
// with RFC 9111 shared-cache semantics in front of one origin, serving from a
// stack of Store layers (in-process L1, Redis L2).
//
// The request path, by file:
//   - gateway.go: New, the echo catch-all Handler and ServeHTTP, which sorts
//     requests into bypass (private), method (not GET/HEAD) and cacheable.
//   - request.go: the request as the key and the origin see it: canonical
//     host and target, and which client headers reach the origin.
//   - ranges.go: Range requests answered from a stored response.
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
//   - coalesce.go: singleflight per instance, the FillLock across
//     instances, background stale-while-revalidate.
//   - invalidate.go: the invalidation API the coordinator calls.
//
// Invalidation uses generations: a fill stamps each layer's copy with the
// generation that layer returned from a Get done before the origin fetch,
// so a fetch that raced an invalidation stores a dead entry. Invalidations
// go to L2 before L1 so an L2 hit cannot refill L1 with what it just lost.
//
// Choices worth knowing:
//   - The cache key is tenant, host (when it is not the tenant's name),
//     negotiated locale (when policy lists locales) and the request target
//     in its canonical form; query order is kept.
//   - Vary'd responses are stored under a variant key next to a variant
//     record; Accept-Encoding is bucketed (br+gzip, gzip, br, identity) and
//     Accept-Language negotiated to the policy's locales, and those are the
//     values the origin is sent, so one URL has a handful of variants.
//   - No heuristic freshness: a response without max-age, s-maxage or
//     Expires is stored only when policy sets a TTL.
//   - A client's no-cache or max-age=0 is honoured with a conditional
//     request using the stored validators; client max-stale is ignored.
//   - HEAD misses are fetched with GET so they fill the entry GET uses.
//   - A layer error is a miss for that layer, logged at most every 10 s
//     per layer; the client never sees it.
//   - Coalesced waiters get only a stored (hence shareable) entry; anything
//     else sends them to the origin on their own.
//   - The gateway never tells a client or CDN to share what it would not
//     store itself: a response with Set-Cookie or an origin's "private"
//     leaves as "private, no-store" whatever the rule says; an origin's
//     no-store or an uncacheable status keeps the origin's Cache-Control.
//   - Any method is forwarded (the router's catch-all takes methods echo
//     does not know, which it would answer 405); a 2xx or 3xx answer to any
//     method not registered as safe (GET, HEAD, OPTIONS, TRACE, PROPFIND,
//     REPORT, SEARCH, QUERY) invalidates the target and the same-host
//     Location and Content-Location (RFC 9111 4.4), unknown methods
//     included.
//   - Ranges: see ranges.go. A GET with a bytes Range is answered from the
//     stored 200 through net/http's ServeContent (206, multipart, 416,
//     If-Range); the cache path never sends Range to the origin, so a miss
//     stores the whole response once. From a response that turns out not
//     to be storable a single range is cut as it streams past; several
//     ranges of it are answered whole (200), which RFC 9110 14.2 allows.
//   - The CDN gets a response's explicit tags, then its implicit url: and
//     path: tags, which purges by URL or prefix use where the CDN cannot
//     purge those directly.
//
// # What reaches the origin is what the key says
//
// Web cache poisoning works by an input that changes the page the origin
// renders but not the key it is stored under. The rule here: everything
// the origin is sent is in the key (or the response's Vary), is set to the
// keyed value, or is removed. Per input:
//   - Host: made canonical before anything reads it (uri.Host: lower case,
//     no port, no trailing dot); the policy, the key and the origin's Host
//     and X-Forwarded-Host all get that value. A Host that is not a host
//     ("t9.example:evil.com", user info, a second colon) is answered 400.
//   - Target: percent-encoding canonical (uri.Target, RFC 3986 6.2.2) in
//     the key, the origin's request line and URL and prefix purges alike.
//   - Forwarding headers (Forwarded, X-Forwarded-*, X-Real-IP,
//     True-Client-IP, X-Host, X-Original-Host): the client's are removed on
//     every request; cachegate sets X-Forwarded-Host (the keyed host),
//     X-Forwarded-Proto (TLS or not), X-Forwarded-Port (its own listener's
//     port, not the client's say) and X-Forwarded-For (the peer), as
//     Varnish and Fastly do. X-Forwarded-For is not keyed: it is the
//     connecting address, which a client cannot choose, and an origin
//     that renders it must say Vary or Cache-Control: private.
//   - URL rewrite headers (X-Original-URL, X-Rewrite-URL, ...): removed on
//     every request; the policy decided on the request line, and the
//     origin must serve that path.
//   - Method override headers (X-HTTP-Method-Override, ...): removed on the
//     cache path, where a GET run as a DELETE would be stored as the page;
//     passed on other methods, where APIs tunnel methods through POST and
//     nothing is stored.
//   - A GET or HEAD body: not sent on the cache path (RFC 9110 9.3.1 gives
//     it no meaning); like Varnish on a miss, and unlike refusing the
//     request, this keeps clients that send an empty chunked body working.
//     A bypassed request keeps its body, as Varnish's pass does.
//   - Range, If-Range and the client's validators: not sent on the cache
//     path; the cache answers them from the stored response.
//   - Any other header is the origin's to name in Vary if it renders from
//     it (RFC 9111 4.1); Accept-Encoding and Accept-Language are sent as
//     the normalised values the variant is keyed by.
//   - A request with both Content-Length and Transfer-Encoding: Go's
//     server already drops the Content-Length and reads the chunked body
//     (RFC 9112 6.3) before a handler runs, so cachegate cannot tell such a
//     request from a plain chunked one and does not answer it 400. It
//     closes the connection after answering any request framed by
//     Transfer-Encoding, which is what RFC 9112 6.1 requires: bytes a
//     front proxy framed by Content-Length are never read as a request.
package gateway
