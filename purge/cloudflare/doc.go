// Package cloudflare purges Cloudflare's cache by tag, host, prefix, URL or
// everything, per zone, through the official SDK's cache service
// (github.com/cloudflare/cloudflare-go/v7, only its cache and option
// packages: the root package pulls in hundreds more).
//
// The SDK's own retries are off: it would retry many times and honour any
// Retry-After without a cap inside one call, holding the queue. The purge
// dispatcher owns retries, so this package only maps each answer: 429 to
// *purge.RetryAfterError, 5xx and network errors to temporary errors,
// other 4xx to purge.ErrPermanent, and HTTP 200 whose envelope says
// "success": false to a failure (the SDK does not check the envelope, so
// the package reads it itself).
package cloudflare
