// Package redisstore is cachegate's optional L2 layer: a gateway.Store and
// gateway.FillLock on Redis through go-redis v9's UniversalClient (a single
// server, Sentinel through its failover client, or Cluster; see NewClient
// and Config.URL for the redis-sentinel:// form).
//
// # Keys and Cluster
//
// Every key of a tenant starts with the hash tag {prefix:tenant}, so all of
// a tenant's keys live in one slot and each multi-key Lua script (get with
// its invalidation checks, set, invalidate) runs on one node of a Cluster
// without CROSSSLOT errors. Tenants spread over the slots. Keys:
//
//	{cg:acme}:g         generation counter (no TTL once invalidated; before, MaxTTL+1m renewed by fills)
//	{cg:acme}:f         tenant floor (InvalidateTenant), TTL MaxTTL+1m
//	{cg:acme}:t:<tag>   tag record: generation of its last invalidation, TTL MaxTTL+1m
//	                    (floor and tag records: "hard" or "hard soft at-ms" after a soft one)
//	{cg:acme}:e:<key>   entry hash {g: FetchGen, t: tags, b: encoded entry}, TTL <= MaxTTL
//	{cg:acme}:l:<key>   fill lock (SET NX PX, random token)
//
// # Invalidation
//
// The generation model of gateway.Store, in Lua so each step is atomic:
// InvalidateTags is one script (raise the counter, SET each tag record),
// O(1) per tag and no SCAN, KEYS or fan-out delete. Get is one round trip:
// the script reads the entry and, only if an invalidation happened since
// its fetch began, the floor and its tag records (one MGET), deletes it if
// dead and returns it with the counter. Set refuses a fill that is already
// dead. Because no dead fill is stored and entries live at most MaxTTL,
// tag records can expire after MaxTTL plus a margin: memory stays bounded.
// Redis should run with maxmemory-policy noeviction or volatile-ttl
// (entries expire sooner than tag records) so that eviction never drops an
// invalidation record first.
//
// # Lost writes: restarts and failovers
//
// Redis can lose its last writes: a restart without persistence loses all,
// and a Sentinel failover promotes a replica that asynchronous replication
// may not have brought the last invalidations yet. Three rules keep a lost
// invalidation from reviving a dead entry:
//
//   - A missing counter was lost: the scripts recreate it at the server's
//     clock (microseconds) with the tenant's floor there, so every entry
//     and fill in flight from before the loss is dead.
//   - Raises follow the clock (the counter goes to the clock, or up by one
//     when ahead of it): a counter that lost its last raises goes on above
//     every generation it handed out, so a fill that read a lost generation
//     never matches a later invalidation's (a counter merely incremented
//     would hand the same numbers out again). This assumes the promoted
//     replica's clock is not behind the old primary's by more than the
//     failover took (seconds); NTP keeps it so.
//   - With Sentinel (MinReplicas, default 1), an invalidation counts as
//     recorded only once a replica acknowledged it (WAIT on the script's
//     connection). Until then the call fails with ErrUnavailable: the
//     coordinator retries it, and every instance's L2Guard vetoes the L2
//     entries it kills, so nothing is served stale meanwhile. Sentinel
//     promotes the replica with the most of the replication stream, so an
//     acknowledged invalidation survives the failover. With one replica,
//     invalidations wait after a failover until a replica is back (the old
//     primary, restarted, rejoins as one); run two to keep them flowing.
//
// Fills and reads need no acknowledgement: a lost fill is a miss.
//
// # Outages
//
// Redis is an optimisation: timeouts are short (150–250 ms), go-redis
// retries are off, and a circuit breaker (gateway/breaker) skips Redis for a cooldown (1 s)
// after a connection failure, failing calls at once with an error wrapping
// gateway.ErrUnavailable; then a single call probes, and its success closes
// the breaker. A dead Redis therefore adds no latency per request, and the
// layer recovers by itself. Server replies such as LOADING, OOM or
// READONLY also wrap ErrUnavailable but do not open the breaker.
//
// # Entry encoding
//
// Entries are encoded by gateway/entrycodec, shared with memcachestore.
package redisstore
