// Package memcachestore is cachegate's memcached L2 layer: a gateway.Store
// over one or more memcached servers (memcached://h1:11211,h2:11211).
//
// # Client
//
// It uses github.com/bradfitz/gomemcache, the memcached client most Go
// programs use (by memcached's own author's colleague, maintained for over
// a decade, no dependencies, CAS, add and multi-get, which the generation
// model needs). Its stock ServerList picks a server by CRC32 modulo the
// server count, so adding or removing one server moves almost every key;
// here a ketama ring (ring.go, placed as libketama places it) is plugged
// in through its ServerSelector, so one server of n moves about 1/n of the
// keys. The client takes no context: calls are bounded by Timeout (each
// network step) and the context is checked before each call.
//
// # Generations in a cache that forgets
//
// The Store interface's generation model (see gateway.Store) needs records
// of invalidations, and memcached may evict any item at any time, or lose
// all of a server's on restart. The rule is that a missing record counts
// as an invalidation, so eviction never revives a dead entry:
//
//   - The tenant's generation record (one item "gen floor", changed only by
//     compare-and-swap, so both are lost together) is raised by every
//     invalidation; the floor by InvalidateTenant. Get returns gen, and a
//     fill stores it as FetchGen.
//   - A tag record holds the generation of the tag's last invalidation,
//     and only rises (CAS), so of two racing invalidations the later wins.
//   - An entry records its FetchGen and tags. It is live if FetchGen is
//     not above gen (above: the record was lost and recreated since its
//     fetch began), not below the floor, and either equals gen (nothing was
//     invalidated since: no more reads) or every one of its tag records
//     exists and is not above FetchGen. A missing tag record means evicted:
//     the entry is dead.
//   - Set refuses a fill that is already dead by these rules, and creates
//     a missing tag record at the current gen first: so every stored entry's
//     tags have records, and one found missing later was evicted. A record
//     created at gen leaves a fill of that gen alive (no invalidation since
//     its fetch began could have been lost) and kills older ones.
//   - A missing generation record is recreated at a fresh value with the
//     floor at that value, killing every entry and fill of its earlier life.
//     The fresh value is the wall clock in microseconds, and every raise
//     also moves the generation up to the clock when it is behind: so
//     generations follow time, and a recreated record starts above every
//     generation its earlier life handed out (no stored entry can carry
//     it, and none is above it) unless the recreating instance's clock is
//     behind the one that handed them out. Clock skew between instances is
//     safe but costs hits for that long: an entry whose FetchGen is above a
//     recreated gen is dead, and a tag record above gen refuses fills of
//     that tag until gen, raised with the clock, passes it.
//
// Records have no expiry: memcached's LRU bounds their memory, and what it
// forgets only invalidates. Entries expire by memcached's whole seconds and,
// exactly, by a deadline stored with them. An entry stores its tenant and
// key beside the encoded entry (gateway/entrycodec), since keys are hashed
// to fit memcached's 250 bytes: a collision is a miss, never another
// tenant's response.
//
// # What memcached does not give
//
// No fill lock: memcached has no atomic set-if-absent with a millisecond
// expiry, so instances coalesce origin fetches each on its own (the
// gateway's FillLock is nil). No replication: a server lost is a cold
// share of the cache, never a stale one. An entry over MaxItemSize
// (memcached -I, 1 MiB by default) is not stored. A connection failure
// opens a circuit breaker (gateway/breaker) for Cooldown, shared by all
// the servers: one dead server makes L2 skip, then probe, every second, so
// take it out of the list.
package memcachestore
