// Package purge delivers invalidations to CDN providers: a durable queue on
// JetStream, coalescing and batching up to each provider's per-request
// limits, per-account rate limiting, retries with backoff, and a state per
// purge and provider. Providers live in packages named after them
// (purge/cloudflare, purge/fastly, purge/varnish) and implement Purger.
package purge
