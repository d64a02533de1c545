// Package memlimit owns how much memory a serving process plans for: it
// finds the limit the process runs under (GOMEMLIMIT, else the container's
// cgroup v2 memory.max, else cgroup v1 memory.limit_in_bytes) and divides
// it into the L1 byte budget and the Go runtime's soft memory limit, so that
// the L1 budget is a bound on the process and not only on its entries.
//
// The rule (Plan):
//   - an explicit L1 budget (config l1.max_bytes) always wins;
//   - under a limit, the L1 budget defaults to half of it: the other half is
//     the fixed footprint (runtime, embedded NATS, connections), the bytes
//     held by fills in flight and the garbage collector's headroom;
//   - without a limit, the L1 budget is memstore.DefaultMaxBytes;
//   - the Go runtime's soft limit is set unless GOMEMLIMIT already set one:
//     90% of a cgroup limit (the collector works harder before the kernel
//     kills the process), or, with no limit at all, the L1 budget plus the
//     fill buffer budget plus Overhead, so that resident memory stays
//     within budget plus a fixed overhead however many distinct URLs pass.
package memlimit
