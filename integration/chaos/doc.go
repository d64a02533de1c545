// Package chaos is the fault suite of cachegate's invalidation guarantee,
// run against real processes: a standalone nats-server with JetStream
// (user and password required), Debian's redis-server, three `cachegate
// serve` processes built from ./cmd/cachegate, an origin whose pages carry
// a version, and the Cloudflare purge API fake behind a gate that injects
// CDN outages. A consistency checker runs throughout while faults are
// injected in turn (Redis stopped, NATS stopped, NATS stopped while the
// instance that publishes is killed, Redis killed and restarted empty, an
// instance killed with -9, an instance paused past its heartbeat TTL, the
// CDN answering 429, 5xx, success:false, or hanging),
// and prints per fault the reads, stale reads, lost events, client errors,
// refused publishes, CDN tags missing or delivered twice, and the
// publish-to-applied latency.
//
// What is checked, and why so:
//
//   - Every edit goes to a page of its own, edited once. A page edited
//     twice would hide a lost first event behind the second one's
//     invalidation, so "each edit's version is checked" needs one page per
//     edit. Each phase's pages are read on every instance before its fault
//     begins, so the fault hits content that every layer, the shared L2
//     included, already holds; each page is read on every instance once
//     more just before its edit, then bumped at the origin, then its event
//     is published with ?wait=1.
//   - One instance has an L1 too small to hold a page: it serves what L2
//     holds, as any instance does after a restart, a scale-out or an
//     eviction. Without it a stale L2 entry would hide behind the other
//     instances' fresher L1 copies.
//   - A stale read is a read whose request began (the reader's clock,
//     before sending) strictly after the wait-publish of its page returned
//     200 (the writer's clock, after reading the answer), and that shows an
//     older version. The comparison is on one process's monotonic clock, so
//     a read in flight while the answer arrived is never counted.
//   - Readers talk to the gateways directly: no CDN cache sits in the read
//     path (the fake only receives purges), so what a reader sees is what
//     the gateway's L1 and the shared L2 serve. The CDN side of an edit is
//     checked at the fake: the page's own tag must be confirmed there once,
//     never twice.
//   - A lost event is an accepted edit (200, 202, or 504 "durable") whose
//     version is not shown by every instance within a bound after the
//     fault ended. A 503 is "refused, not accepted": honest, not a loss.
//
// The suite has two forms of the same code: the short one that `go test
// ./...` runs (faults of seconds), and the long one of `make chaos`
// (CACHEGATE_CHAOS=long: outages of 30 s, CDN outages of 3 minutes).
// CACHEGATE_CHAOS_REPORT names a file to write the result table to (as
// Markdown), CACHEGATE_CHAOS_LOGS a directory to keep the processes' logs
// in.
//
// The package has no code of its own besides this comment: everything is
// in its tests.
package chaos
