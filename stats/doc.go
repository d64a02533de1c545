// Package stats counts what each cache layer did, overall, per tenant and per
// route prefix, and renders it as the Snapshot that the admin API serves.
//
// Counters are atomics, so recording on the hit path takes no lock once a
// tenant or route is known; the per-tenant and per-route tables are bounded
// (past the bound, counts go to the "_other" row) so hostile or unbounded
// hosts and paths cannot grow memory.
package stats
