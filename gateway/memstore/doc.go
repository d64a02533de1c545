// Package memstore is cachegate's in-process L1 layer: a gateway.Store
// bounded in bytes (each entry weighs Entry.Size() plus its key and
// bookkeeping), with a TTL per entry, on otter v2.
//
// # Invalidation
//
// Tag and tenant invalidation follow the generation model of gateway.Store
// with O(1) work per tag: InvalidateTags takes the next generation and
// records it per tag; an entry is dead once a tag it carries, its tenant or
// the whole store (Clear) was invalidated at a generation above the one its
// fetch read. One counter serves every tenant (each still sees a monotonic
// counter), which lets Clear kill every entry of every tenant in one step
// after this instance may have missed invalidations. Dead entries are never
// returned and are deleted when read; the rest leave by expiry or eviction.
// Set refuses a fill that is already dead, and clamps a FetchGen ahead of
// the layer's counter, so that invalidation records need to outlive entries
// only: records older than MaxTTL are pruned at most once per interval
// (amortized, nothing grows per request).
//
// The hit path takes no lock for an entry filled after its tenant's last
// invalidation (the common case): a lock-free otter read and an atomic
// load of that generation. Only entries filled before it read one record
// per tag, under a read lock of one of 16 shards (records.go says why not a
// sync.Map). Get returns the stored *Entry itself, with
// no copy: callers must treat it (headers, body, tags) as read-only, and
// must not modify an Entry after passing it to Set.
//
// # Why otter v2 and not ristretto v2
//
// Measured on the 2-core development machine (library_test.go; run
// `go test -run TestMemory -v` and `go test -bench Library -benchmem`):
//
//   - Memory, 20,000 entries with a 2 KiB body, three headers, three tags
//     and a 40-byte key: the bare entries and keys take 2,817 bytes each;
//     in memstore (otter) 2,934 bytes per entry in all, so 117 bytes of
//     cache overhead; in ristretto 2,994 (177 bytes of overhead). The target
//     of under 3 KiB (3,072 bytes) per 2 KiB entry holds, and the test
//     asserts it.
//   - Get-heavy parallel workload (15 reads per write, 10,000 keys, skewed):
//     otter 173–275 ns/op, ristretto 221–339 ns/op (one run at 1,994), on a
//     machine shared with other builds; otter allocates nothing, ristretto
//     about 6 B/op. memstore's own parallel Get hit: about 60 ns, 0 allocs.
//   - Semantics, which decide it: ristretto's Set is asynchronous and may be
//     dropped by its admission buffer, so a Get right after a Set can miss
//     and a Set can land after a later Delete is issued; otter's writes are
//     synchronous and linearizable, which the generation checks in Set rely
//     on. otter also weighs entries exactly against MaximumWeight and has a
//     per-entry expiry calculator.
package memstore
