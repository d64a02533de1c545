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
// Wiring in a gateway process (each instance runs both an Instance and a
// Coordinator; the durable consumer makes them share the work):
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
