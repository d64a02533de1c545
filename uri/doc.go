// Package uri owns the canonical form of what names a cached response: the
// request's host and its target (path and query). The cache key, the
// request the origin is sent, the tenant a host maps to and the tags a
// purge by URL or prefix invalidates are all built from these forms, so two
// spellings of one resource can never be two entries, and a purge in one
// spelling reaches the entry stored under another.
//
// It is a leaf: no I/O, no dependency on the rest of cachegate.
package uri
