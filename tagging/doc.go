// Package tagging owns cache tags on the wire: the tag templates (one
// expander, Template, used by the policy's response tags and the event
// mapper's invalidation tags, so a value is escaped the same way in both),
// the origin's tag headers read from a response, and the tag header each
// CDN reads written to it within its provider's limits, with the fallback
// buckets for tags that do not fit (a tag past a limit is still purgeable
// through its bucket, PurgeTags).
//
// It does not own which tags a route adds (package policy), what a purge
// or an event invalidates (packages invalidation and events), nor the CDN
// providers' facts it formats for (package cdn: header names, separators,
// limits).
//
//   - template.go: Template, its expansion and Bound, a template resolved
//     for expansion on every request without allocating per placeholder.
//   - headers.go: reading the origin's tag headers; the internal headers
//     never sent to a client.
//   - emit.go: Emitter, the tag header for a CDN, and the fallback buckets.
package tagging
