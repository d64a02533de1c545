// Package headers is the pure part of cachegate's request path: it parses
// and decides, and does no I/O. It holds the RFC 9111 / 9110 rules
// (Cache-Control, freshness, age, Vary, validators and conditional
// requests), the per-route policy engine that decides what may be cached
// where and what clients and CDNs are told, the tag templates (one
// expander, Template, for the policy's response tags and the event
// mapper's invalidation tags, so a value is escaped the same way in both),
// and the CDN tag header formats with their providers' size limits and the
// fallback buckets of tags that do not fit.
//
// The RFC rules, one file per concern:
//   - cachecontrol.go: the Cache-Control field.
//   - date.go: HTTP-dates, strictly (an Expires that is not one is expired).
//   - age.go: the Age field and the current age (RFC 9111 4.2.3, 5.1).
//   - freshness.go: the explicit and the heuristic freshness lifetime.
//   - storable.go: the one decision of whether a response may be stored
//     (Storable) and of what it may be shared as downstream (ShareAs). The
//     gateway's store, the client's Cache-Control and the CDN's directives
//     and tags all follow these two, so they cannot disagree.
//   - vary.go, validators.go, conditional.go: Vary, entity tags,
//     conditional requests and the 304 update of a stored header.
package headers
