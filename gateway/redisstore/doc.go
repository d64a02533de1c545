// Package redisstore is cachegate's optional L2 layer: a gateway.Store and
// gateway.FillLock on Redis through go-redis v9's UniversalClient (a single
// server, Sentinel or Cluster; see NewClient).
//
// # Keys and Cluster
//
// Every key of a tenant starts with the hash tag {prefix:tenant}, so all of
// a tenant's keys live in one slot and each multi-key Lua script (get with
// its invalidation checks, set, invalidate) runs on one node of a Cluster
// without CROSSSLOT errors. Tenants spread over the slots. Keys:
//
//	{cg:acme}:g         generation counter (no TTL: it must not be lost)
//	{cg:acme}:f         tenant floor (InvalidateTenant), TTL MaxTTL+1m
//	{cg:acme}:t:<tag>   tag record: generation of its last invalidation, TTL MaxTTL+1m
//	                    (floor and tag records: "hard" or "hard soft at-ms" after a soft one)
//	{cg:acme}:e:<key>   entry hash {g: FetchGen, t: tags, b: encoded entry}, TTL <= MaxTTL
//	{cg:acme}:l:<key>   fill lock (SET NX PX, random token)
//
// # Invalidation
//
// The generation model of gateway.Store, in Lua so each step is atomic:
// InvalidateTags is one script (INCR the counter, SET each tag record),
// O(1) per tag and no SCAN, KEYS or fan-out delete. Get is one round trip:
// the script reads the entry and, only if an invalidation happened since
// its fetch began, the floor and its tag records (one MGET), deletes it if
// dead and returns it with the counter. Set refuses a fill that is already
// dead and clamps a FetchGen ahead of the counter (after a Redis restart
// the counter starts again at 0); an entry whose generation is ahead of the
// counter is treated as dead, since the counter was lost. Because no dead
// fill is stored and entries live at most MaxTTL, tag records can expire
// after MaxTTL plus a margin: memory stays bounded. Redis should run with
// maxmemory-policy noeviction or volatile-ttl (entries expire sooner than
// tag records) so that eviction never drops an invalidation record first.
//
// # Outages
//
// Redis is an optimisation: timeouts are short (150–250 ms), go-redis
// retries are off, and a circuit breaker skips Redis for a cooldown (1 s)
// after a connection failure, failing calls at once with an error wrapping
// gateway.ErrUnavailable; then a single call probes, and its success closes
// the breaker. A dead Redis therefore adds no latency per request, and the
// layer recovers by itself. Server replies such as LOADING, OOM or
// READONLY also wrap ErrUnavailable but do not open the breaker.
//
// # Entry encoding
//
// Entries are encoded with a small hand-written binary codec (codec.go)
// rather than encoding/gob or encoding/json: gob writes type descriptors
// into each standalone message and decodes through reflection, json
// base64-encodes the body (a third larger) and allocates per field and
// value. The codec decodes a 2 KiB entry with five allocations (entry,
// body, one string holding every header, tag and Vary name, the header map,
// one slice backing all values), copies nothing it keeps twice, and checks
// every length against the remaining input so corrupt data fails with an
// error (fuzzed), never a panic or a huge allocation. It carries a version
// byte; an entry the running version cannot decode is a miss and is
// deleted. BenchmarkCodecAlternatives, encode plus decode of a 2 KiB entry
// on a heavily loaded 2-core machine: codec 6.8 µs and 7 allocations,
// encoding/gob 42 µs and 258, encoding/json 78 µs and 42.
package redisstore
