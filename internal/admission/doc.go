// Package admission answers "was this key asked for before, lately?" in
// bounded memory, for TinyLFU-style admission (Einziger, Friedman, Manes,
// 2017): a key seen once is not worth a shared layer's memory, one seen
// again is. It is TinyLFU's doorkeeper, a Bloom filter, in two
// generations: a key is seen when either holds it, and once the current
// one took Window keys, it becomes the previous and a fresh one starts, so
// a hot key never falls out at a reset (the cliff of a single filter) and
// memory stays two filters of about 10 bits per key of Window.
//
// Only the doorkeeper: admission here is "seen at least twice", which the
// doorkeeper answers alone; a count-min sketch behind it would count
// further, which this decision never reads. It is written here rather
// than imported because the well-kept Go caches that have one (otter,
// ristretto) keep their sketches unexported, inside their eviction
// policies.
//
// A Filter is safe for concurrent use; Seen takes no lock but at a
// rotation (once per Window new keys).
package admission
