// Package purge delivers invalidations to CDN providers: a durable queue on
// JetStream, coalescing and batching up to each provider's per-request
// limits, per-account rate limiting, retries with backoff, and a state per
// purge and provider. Providers live in packages named after them
// (purge/cloudflare, purge/fastly, purge/varnish) and implement Purger.
//
// The pieces:
//
//   - Queue (queue.go): the work-queue stream CACHEGATE_PURGES, file
//     storage, a dedupe window of at least ten minutes; Enqueue returns once
//     the purge is durable, with the request id as Nats-Msg-Id so retries
//     and crash replays of the event coordinator enqueue once.
//   - States (states.go): JetStream KV buckets, one key per purge and
//     target (gateway layers l1/l2 and each provider), plus the failed
//     purges with their request, kept until retried.
//   - Dispatcher (dispatcher.go, worker.go, coalesce.go): one durable pull
//     consumer shared by every instance; purges dequeued within the window
//     form a round, merged per provider and zone, deduplicated, and split
//     into batches within the provider's Limits. Each provider has its own
//     worker, and within it each zone is delivered on its own, so a slow
//     provider or zone never holds up another. A message is
//     acked only once every provider's outcome (confirmed, or failed with
//     the reason) is durably recorded: a crash before that redelivers it
//     (duplicates are fine, losses are not). A temporary failure (5xx,
//     429, a timeout, "success": false) is retried with capped backoff
//     until it succeeds, however long the outage; a provider's
//     Retry-After pauses its whole account, across batches. Only a
//     permanent answer (the request itself is invalid, bad credentials)
//     ends in failed: kept in FailedBucket, listed and retryable.
//   - Backlog (backlog.go): what waits per provider and in the queue, how
//     old the oldest is, whether a provider is failing; served as metrics
//     and to /readyz.
//   - Layer order (order.go, Provider.After): with caches stacked (a CDN
//     in front of Varnish), the outer provider's batches for a purge are
//     handed to its worker only once the inner providers have an outcome
//     for that purge; purging the outer layer first would let a request
//     refill it from the inner layer's stale copy. The wait is per purge
//     and occupies no worker: the outer worker goes on with other purges.
//
// Coalescing, rate limiting and retries are written here rather than taken
// from a library because they are one decision: a 429 pauses the whole
// account's bucket, a round's batches carry the purges they serve, and the
// ack of a message waits for every provider's receipt. golang.org/x/time/rate
// provides the token bucket itself.
package purge
