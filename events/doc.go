// Package events owns the path from "something changed" to "every layer
// forgot it": the versioned change-event schema apps publish on NATS
// JetStream, the mapping of an event to cache tags, the publisher apps
// import, the coordinator that applies each event once to the shared cache
// (L2) and the CDN purge queue while every gateway instance drops the tags
// from its own L1, the per-instance L1 listener, the dead-letter stream, and
// how a client connects and authenticates to NATS (ConnConfig). The
// embedded NATS server lives in events/natsserver, so that an app importing
// the publisher does not link the server.
//
// Event tag templates are tagging.Template, the policy's: an event key and a
// path parameter with the same value name the same tag. Admin purges
// (TypePurge) are not mapped: they name their tags.
//
// The layers are reached through small interfaces declared here
// (SharedInvalidator, LocalInvalidator, PurgeQueue, StateRecorder, Auditor)
// so this package never imports the gateway.
//
// Why the coordinator batches by hand instead of handling one message per
// callback: the target is thousands of events per second with a p99 of a
// few milliseconds from publish to "applied on every instance". One L1
// broadcast round trip per event would bound throughput by the slowest
// instance's round trip, so the coordinator drains what the pull consumer
// has buffered, merges the tags per tenant, and pays one L2 call per tenant
// and one broadcast per batch. A message that was redelivered is processed
// on its own, so a poison event fails alone and reaches the dead-letter
// stream without holding its neighbours back.
//
// Nothing transient is given up on. An event whose L2 step, L1 broadcast
// or purge enqueue fails is handed back with a capped backoff
// (BackoffMax, 5 s by default, which is also how long an invalidation may
// trail the end of its fault) for as long as the failure lasts; only what
// can never apply is dead-lettered: a malformed or unmappable event (one
// that maps in part is applied as far as it maps, and a copy is kept with
// what did not), one
// whose body names another tenant than its subject (subject permissions
// are what confine a tenant's publishers), or one a layer refuses as
// invalid when tried alone.
//
// While L2 is unreachable, the event's L1 broadcast still goes out, and
// carries the invalidation as pending for L2; the coordinator also writes
// it to the PendingBucket before the broadcast. Each instance keeps those
// in its L2Guard and serves no L2 entry fetched before a pending
// invalidation of one of its tags (see L2Guard for why). A starting
// instance reads the bucket before its Start returns; a reconnecting one
// reads it again before its L1 serves. A waiter is told "L2 pending"
// (ErrL2Pending) once every live instance holds the invalidation: readers
// see the change, though L2 itself catches up only when it is back.
//
// Instance liveness is a heartbeat in a KV bucket that the coordinator
// watches, so the set of instances whose L1 acknowledgement it awaits is in
// memory, never read per event. An instance that loses its NATS connection
// disables and drops its L1, and drops it again after it has resubscribed,
// before it serves from L1: it may have missed broadcasts meanwhile.
//
// Partitions. Every gateway process runs a coordinator; one shared
// consumer would let two of them apply one tenant's events at once, out
// of order, and would be the ceiling. The event stream therefore rewrites
// each subject on arrival (a stream SubjectTransform):
// cachegate.events.<tenant>.<entity> is stored as
// cachegate.partition.<p>.<tenant>.<entity>, p the server's hash of the
// tenant token modulo StreamConfig.Partitions (DefaultPartitions). Each
// partition has its own durable consumer with the JetStream "pinned
// client" priority policy: the server hands a partition's events to one
// puller at a time. The live coordinators heartbeat in CoordinatorBucket,
// sort their ids and deal the partitions in turn (partition p to the
// (p mod n)-th), so the work spreads; the pin is what makes two
// momentarily disagreeing views safe. A coordinator applies a partition's
// events in stream order, so a tenant's events are applied in publish
// order. Publishers, their subjects and their permissions do not change.
//
// Hand-over. A coordinator that closes finishes or naks what it took,
// then unpins its partitions and deregisters: the next owner starts at
// once, with the naked events first (redeliveries go before new ones).
// One that gives partitions up to a coordinator that joined does the
// same for those partitions (each lane counts what it took and has not
// yet settled), so a join or a rolling restart does not hold their
// events back until the pins expire.
// One that dies stops heartbeating and pulling: after PinnedTTL
// (DefaultPinnedTTL, 5 s) the others see it gone and its pin lapses, and
// the new owner pulls. That TTL is the trade-off: shorter hands over
// sooner, but a coordinator stalled longer than it (a GC pause, a slow
// L2 call holding its pulls back) loses its partitions while it still
// holds events. The events a dead coordinator held unacked come back only
// after AckWait, so they may be applied after newer events of their
// tenant: harmless for the guarantee, since an invalidation applied late
// only invalidates more (each marks dead what was fetched before it is
// applied), never less. The same holds for an event retried after a
// transient failure: it is handed back with backoff and its neighbours
// go on.
//
// Upgrade. A stream from before partitioning gets the transform at the
// next Setup; the events it already holds keep their published subjects,
// and the old shared durable (CoordinatorConfig.Durable) still matches
// only them. Every coordinator keeps pulling from that durable, as
// before, and starts pulling partitions only once it is drained, so
// nothing is lost and a tenant's old events go before its new ones (unless
// the old ones still fail after a minute: a long outage does not hold
// every new event back, and order is given up for those tenants).
// Events whose subject the transform does not match (fewer tokens than
// <tenant>.<entity>) also land there, and are dead-lettered. The
// partition count of an existing stream is fixed: Setup refuses another,
// since a tenant would move while its earlier events wait in its old
// partition. To change it, stop the coordinators, let the backlog drain,
// and recreate the stream with the new count.
//
// Wiring in a gateway process (each instance runs both an Instance and a
// Coordinator; the partitions make them share the work):
//
//	err := events.Setup(ctx, js, events.StreamConfig{})
//	inst, err := events.NewInstance(js, gw, events.InstanceConfig{Logger: log, Registerer: reg})
//	err = inst.Start(ctx) // before L1 serves
//	coord, err := events.NewCoordinator(js, events.CoordinatorConfig{
//		Mapper: mapper, Shared: gw, Queue: purgeQueue, States: purgeStates, Audit: auditLog,
//		Logger: log, Registerer: reg})
//	err = coord.Start(ctx)
//	pub, err := events.NewPublisher(js, nil, events.PublisherConfig{}) // admin API, CLI, demo
//
// A gateway-only process (coordinators run in other processes on the same
// NATS) runs the Instance alone, and calls coord.Open instead of Start for
// the dead-letter calls: every coordinator awaits its L1 acks all the
// same, and the decoding, L2 calls and records stay off its CPU.
//
// Several regions (Regions) each run this whole package on their own NATS,
// a JetStream domain per region: a region's events stream sources the
// events published in the others, stored under SourcedSubjectPrefix and
// the region's name so that none is sourced back, and its coordinators
// apply them like their own. A wait-publish answers for its own region;
// Regions.PurgeRegion says which region sends each event's CDN purge, so
// the CDN gets it once.
//
// Event ids that are not NATS subject tokens (dots, colons, over 64
// characters) are hashed for the applied-notification subject and the
// applied-ids key; the id itself is unchanged everywhere else.
package events
