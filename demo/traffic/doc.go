// Package traffic is the demo's own visitors: a light, bounded load
// generator that browses the demo marketplace through the gateway so that
// the dashboard has something to show on a first run.
//
// The mix is skewed the way real traffic is: a few tenants and pages get
// most requests (Zipf-distributed tenants, profile pages before listings
// before detail pages, detail pages found by following the listing's
// links), German and English browsers, revalidations with a seen ETag,
// signed-in visitors on /account, and an editor who changes a company's
// description or a caption of its gallery now and then, in turn.
//
// It is bounded on purpose: a ticker at the configured rate starts at most
// one request per tick and at most Concurrency requests are in flight; when
// all slots are busy the tick is skipped rather than queued, so a slow
// gateway sees less traffic, never a burst. A hand-written ticker loop is
// enough here; a token-bucket library would add burst semantics the demo
// does not want.
package traffic
