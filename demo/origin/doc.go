// Package origin is the demo's application server: a small B2B marketplace
// in which every tenant is a company site, addressed by host
// (<tenant>.localhost). It stands in for the apps that sit behind
// cachegate, so it behaves like one: localized HTML pages with realistic
// cache headers and Surrogate-Key tags, validators (ETag, Last-Modified)
// and 304s, an authenticated account page that must never be shared, and an
// editor endpoint whose changes are announced through an injected hook (the
// demo wires it to publish company.updated and wait until it is applied).
//
// Every page costs an artificial latency so that the cache's effect is
// visible, every page carries markers (data-version and data-rendered on
// <html>, also as <meta> tags) so that tests can tell fresh from stale
// content: the version moves with every edit, the render sequence with
// every page the origin renders,
// and GET /_origin/stats reports how many requests the origin served, which
// is what "origin requests saved" is measured against.
//
// Routes, tags and headers. Public pages carry Cache-Control
// "public, max-age=60, stale-while-revalidate=30" and, for shared caches,
// CDN-Cache-Control "max-age=300, stale-while-revalidate=30" (not s-maxage,
// which would forbid serving them stale), Vary:
// Accept-Language, Content-Language, Last-Modified and a weak ETag, and
// answer If-None-Match / If-Modified-Since with 304:
//
//	GET  /                   profile             Surrogate-Key: company:<t> (Config.ESI: a shell, see below)
//	                                             else company:<t> gallery:<t> listings:<t>, all inline
//	GET  /companies          listing             Surrogate-Key: company
//	GET  /companies/<id>     detail              Surrogate-Key: company:<id>
//	GET  /fragments/gallery  gallery fragment    Surrogate-Key: gallery:<t>
//	GET  /fragments/listings related listings    Surrogate-Key: listings:<t>
//	GET  /gallery/<n>.svg    gallery image       Surrogate-Key: gallery:<t> (an hour in shared caches, not localized)
//	GET  /account            personal page       Cache-Control: private (401 without credentials)
//	GET  /edit, POST /edit   editor              Cache-Control: no-store (401 without Authorization)
//	POST /edit/gallery       caption editor      Cache-Control: no-store (401 without Authorization)
//	GET  /_origin/stats      request counts      any host, no latency, not counted itself
//	unknown path             404                 public, max-age=30
//	unknown host             404                 no-store, links to the tenants' sites
//
// With Config.ESI the profile page is a shell that sends
// Surrogate-Control: content="ESI/1.0" and includes the two fragments with
// <esi:include>, so a cache that assembles ESI keeps each part under its
// own tags: a gallery edit (OnGalleryEdit) refetches the gallery alone, a
// description edit (OnEdit) the shell alone.
//
// State lives in memory and is safe for concurrent use.
package origin
