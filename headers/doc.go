// Package headers is the pure part of cachegate's request path: it parses
// and decides, and does no I/O. It holds the RFC 9111 / 9110 rules
// (Cache-Control, freshness, age, Vary, validators and conditional
// requests), the per-route policy engine that decides what may be cached
// where and what clients and CDNs are told, the tag templates (one
// expander, Template, for the policy's response tags and the event
// mapper's invalidation tags, so a value is escaped the same way in both),
// and the CDN tag header formats with their providers' size limits and the
// fallback buckets of tags that do not fit.
package headers
