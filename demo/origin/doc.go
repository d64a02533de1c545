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
// visible, every page carries a version marker (<meta name="version"> and
// <meta name="rendered">) so that tests can tell fresh from stale content,
// and GET /_origin/stats reports how many requests the origin served, which
// is what "origin requests saved" is measured against.
//
// Routes, tags and headers (Handler documents them in full):
//
//	GET  /                   profile + gallery   Surrogate-Key: company:<t> gallery:<t>
//	GET  /companies          listing             Surrogate-Key: company
//	GET  /companies/<id>     detail              Surrogate-Key: company:<id>
//	GET  /fragments/gallery  gallery fragment    Surrogate-Key: gallery:<t>
//	GET  /gallery/<n>.svg    gallery image       Surrogate-Key: gallery:<t>
//	GET  /account            personal page       Cache-Control: private (401 without credentials)
//	GET  /edit, POST /edit   editor              Cache-Control: no-store (401 without Authorization)
//	GET  /_origin/stats      request counts      not counted itself
//
// State lives in memory and is safe for concurrent use.
package origin
