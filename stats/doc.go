// Package stats counts what each cache layer did, overall, per tenant, per
// policy route name and per path prefix (the first segment), and how often
// responses carrying a tag prefix ("company:*") came from a cache; it
// renders them as the Snapshot that the admin API serves, and Merge adds
// up several instances' snapshots.
//
// Counters are atomics, so recording on the hit path takes no lock once a
// tenant or route is known; the tables are bounded
// (past the bound, counts go to the "_other" row) so hostile or unbounded
// hosts and paths cannot grow memory.
package stats
