// Package cdn holds the end-to-end test of CDN invalidation across every
// layer: the demo origin behind one cachegate node (L1 and a Redis L2),
// a real Varnish with the shipped VCL in front of the node, and the
// Cloudflare purge API's local fake standing for the CDN in front of
// Varnish, with both providers configured at once (cdn.providers). An
// edit of a company, published as an event, must drop exactly that
// company's responses at every layer and leave the purge confirmed at
// each provider, including after a CDN outage. The package has no code
// of its own: it is the test.
package cdn
