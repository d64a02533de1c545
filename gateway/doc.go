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
//   - fill.go: ModifyResponse: what may be stored (headers.Storable, plus
//     the size limits), the fill of each layer, revalidation (304) and
//     stale-if-error, unsafe-method invalidation.
//   - fillbody.go: how a body reaches the store. A storable GET that
//     wants the whole body streams to its client while it is kept (no
//     buffering before the first byte), whatever its length and
//     validators; a range, a conditional or a HEAD is read before
//     answering. The header says only what is known before the body: a
//     body of unknown length is read ahead up to 32 KiB (one that ends
//     there is answered with its length and "stored"); past that its
//     length stays unannounced and "stored" is not claimed
//     (detail=unknown-length), and the ETag generated for a response
//     without a validator goes to later hits. Either way, the bytes held
//     for fills in flight are bounded by one budget
//     (Config.FillBufferBytes): a fill beyond it, or beyond MaxObjectSize,
//     is answered whole and not stored (detail=buffer-budget or too-large
//     when known before the header), and one that outgrows either while
//     it streams stops being kept at once. One whose client has not taken
//     the last read for Config.FillClientStall (it stopped reading, or
//     died without closing) is given up and its share of the budget goes
//     back; a body of announced length, whose header said "stored", is
//     cut for that client, one of unknown length streams on. While a body is kept, the time
//     its reads wait on the origin is bounded by what OriginTimeout left
//     after the header (a slow client does not count): a stalled origin
//     is cut off and the fill's waiters are told 504. A streamed fill cut
//     short (its client or its origin left) is not stored; its waiters
//     then fetch again.
//   - header.go: a stored entry's header, kept as name and value pairs
//     rather than a map (the bulk of an entry's overhead): the hit path
//     copies the pairs into the response header, other readers get a
//     fresh http.Header (Entry.Header), and nothing changes a stored one.
//   - serve.go: answering from an entry (Age, 304 for client validators,
//     HEAD) and clientHeaders, the one place every response's header is
//     rewritten per decision: policy.ApplyResponse (Cache-Control, CDN
//     directives, Vary, tag headers out), the CDN's tag header through the
//     TagEmitter, Server and Via.
//   - coalesce.go: one fetch per key per instance (flights), the
//     FillLock across instances, background stale-while-revalidate.
//   - invalidate.go: the invalidation API the coordinator calls, hard and
//     soft (a soft one leaves entries stale for their stale-while-
//     revalidate window, served with "soft" in Cache-Status while one
//     refill runs; stores that cannot mark entries soft invalidate hard).
//   - early.go: probabilistic early refresh (XFetch) of a fresh hit near
//     its expiry, one refresh across instances under the fill lock.
//   - autottl.go, autottl_watch.go, autottl_rule.go: the TTL of "ttl: auto"
//     routes, learnt from revalidations, the invalidations that reach the
//     route's entries and its read rate (what it watches, and the rule
//     that turns that into a TTL: its comment says why).
//   - inspect.go: what each layer holds for a URL, for operators.
//   - esi.go: fragments: a response its rule (esi: assemble) or its
//     origin (Surrogate-Control: content="ESI/1.0") marks is held back by
//     the writer and assembled (package esi) once serve returned, each
//     include served as an ordinary cached GET on the page's host; what
//     the client is told is in esi.go's comment.
//   - esipage.go: assembled pages kept for reuse, by the identities of
//     the L1 entries they were made from (shell and every fragment), in
//     their own bounded table; a page is reused only while each is still
//     the same fresh entry, and never when a fragment was private.
//   - warm.go, warmjob.go: warming. Cacheable requests answered from or
//     stored to the cache feed a per-tenant top-K (internal/topk) with their
//     entry's tags, taking its lock only when free (the hit path never
//     waits); an applied local invalidation refetches the matching URLs
//     through serve itself, as anonymous background requests, within the
//     rate limits; on-demand jobs (StartWarm) wait on the same limits.
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
//     Without locales, Accept-Language (like Accept and Accept-Charset) is
//     keyed as a normalised weighted list (headers.NormalizeVaryValue), so
//     equivalent spellings share one variant.
//   - A response stale on arrival (max-age=0, no-cache, a past or invalid
//     Expires) is stored when it has a validator, kept Config.Keep past
//     its staleness, and revalidated on every use.
//   - Targeted cache control (RFC 9213): the first of Config.TargetedFields
//     present and valid (Cachegate-Cache-Control, then CDN-Cache-Control)
//     replaces Cache-Control and Expires for the gateway's own storage and
//     freshness; what clients and CDNs are told still follows
//     Cache-Control. The gateway's own field never leaves it.
//   - A rule with origin: override (Decision.OverrideOrigin) stores and
//     shares what the origin called private, no-store or no-cache, with
//     the rule's TTL, stale windows and directives; it never overrides
//     what makes a request private, Set-Cookie or Vary: *.
//   - A response that is not stored says why in Cache-Status' detail
//     (headers.Detail*: origin-no-store, origin-private, set-cookie,
//     vary-star, too-large, no-freshness, ...).
//   - A client's no-cache or max-age=0 is honoured with a conditional
//     request using the stored validators; client max-stale is ignored.
//   - HEAD misses are fetched with GET so they fill the entry GET uses.
//   - A layer error is a miss for that layer, logged at most every 10 s
//     per layer; the client never sees it.
//   - Coalesced waiters get only a stored (hence shareable) entry, or the
//     leader's origin failure at once (502/504, or a 5xx the origin
//     answered that was not stored, or stale where stale-if-error allows;
//     across instances through the fill lock, which its holder keeps alive
//     while fetching and leaves marked failed for a second). An unstored
//     5xx is handed to them as the origin sent it only when it is no one's
//     own (no Set-Cookie, not private, a body of at most 64 KiB); else
//     they get its status with the gateway's body. A leader whose answer
//     was its own (a range, If-Match, If-Unmodified-Since, If-Range,
//     request no-store, a client that left, another variant) sends its
//     waiters to coalesce again behind one of them. Anything else
//     (private, Set-Cookie, not storable, below 500) sends them to the
//     origin on their own: nothing private is handed out. Waiters go as
//     soon as the leader knows their outcome: at the header of an answer
//     that will not be stored, or when a streamed fill is given up (too
//     large, the budget, a stalled client), not when the leader's client
//     has its whole body (Varnish wakes its waiting list at the header
//     too). The fill lock is released at the same moment (unless the
//     outcome is a failure, which the lock carries when the request
//     ends), so other instances' waiters go too.
//   - The gateway never tells a client or CDN to share what it would not
//     store itself (headers.ShareAs, on the miss and on every hit): a
//     response with Set-Cookie leaves as "private, no-store" whatever the
//     rule says; an origin's private or no-store, Vary: *, or a status that
//     is not heuristically cacheable keeps the origin's Cache-Control
//     unchanged, without tags or the rule's directives.
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
//   - A response with more than tagging.MaxResponseTags origin tags is
//     still stored: the tags past the cap are stored as their fallback
//     bucket (counted in cachegate_origin_tag_fallbacks_total), and every
//     invalidation of the layers also invalidates each tag's bucket; the
//     CDN header falls back the same way within the provider's limits.
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
//
// Deliberate departures from RFC 9111 / 9110, and why:
//   - No heuristic freshness by default (RFC 9111 4.2.2 allows it): the
//     contract promises that without a policy only what the origin's
//     headers allow is cached, and a guessed lifetime would serve a page
//     edited a minute ago as fresh for hours. A response with only a
//     Last-Modified is still stored and revalidated on every use.
//     Config.Heuristic (cache.heuristic_freshness) turns on RFC 9111's
//     heuristic, a tenth of the Last-Modified age, for a plain RFC cache.
//   - Set-Cookie is never stored (RFC 9111 allows storing it) and such a
//     response leaves as "private, no-store": one user's session must not
//     reach another through any layer or a CDN in front (a common
//     framework mistake is a Set-Cookie on a public page).
//   - A request with Authorization is always private (RFC 9111 3.5 lets
//     public, s-maxage or must-revalidate make it shareable): an origin
//     that forgets a directive must not leak an authenticated page.
//   - A response with neither explicit freshness nor a validator is not
//     stored even with a heuristically cacheable status: it could only be
//     fetched again on its next use.
//   - A client's max-stale is ignored: the gateway serves stale only
//     within the origin's (or policy's) stale windows.
//   - 206 responses are not stored, and HEAD misses are fetched with GET.
//   - An origin's Content-Length sent as a list of equal values ("5, 5",
//     which RFC 9110 8.6 lets a recipient accept) is refused by Go's
//     transport and answered 502 "origin-malformed".
package gateway
