// Package fastly purges Fastly by surrogate key (one key, or a batch of up
// to 256), by URL, or a whole service, with an optional soft purge, over
// plain net/http against Fastly's documented API:
//
//	POST /service/{service_id}/purge/{surrogate_key}   one key
//	POST /service/{service_id}/purge                   {"surrogate_keys":[...]}, at most 256
//	POST /service/{service_id}/purge_all               everything in the service
//	POST /purge/{host}/{path}                          one URL
//
// with the API token in Fastly-Key and Fastly-Soft-Purge: 1 for a soft
// purge. A URL is purged through the API endpoint rather than by sending
// PURGE to the URL itself, so that the call carries the token (an
// unauthenticated PURGE would be refused when the service requires auth)
// and never depends on how the public host resolves from here. Fastly has
// no SDK worth its dependencies for four endpoints, hence plain net/http.
//
// Errors map as for Cloudflare: 429 to *purge.RetryAfterError, 5xx and
// network errors to temporary errors, other 4xx to purge.ErrPermanent, and
// a 200 whose body does not say "ok" (or carry purge ids) to a failure.
package fastly
