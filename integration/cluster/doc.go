// Package cluster holds the end-to-end tests of cachegate as a cluster:
// three whole nodes (internal/node, started by internal/nodetest) sharing
// one real NATS server and one real Redis, in front of the real demo
// origin. Each test exercises a promise of the contract across process
// boundaries that no single package can check on its own: an event
// invalidates every instance and no other tenant, readers never see content
// older than a write whose wait returned, a crash or a NATS restart loses
// no acknowledged event, an instance that was away drops its L1, a killed
// Redis changes nothing for the client, and malformed events are
// dead-lettered with a reason. Two regions, each on its own NATS server
// (linked as a leaf node) with its own Redis and nodes, apply each other's
// events, send each CDN purge once, and lose nothing while their link is
// down. The benchmarks measure publish-to-applied latency and events per
// second through the same whole nodes.
//
// The package has no code of its own besides this comment: everything is
// in its tests.
package cluster
