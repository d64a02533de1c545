// Package invalidation names what an invalidation is: a tenant and the tags,
// URLs and path prefixes whose responses must go, or everything the tenant
// has. It is the one vocabulary shared by the gateway (which applies a
// Request to its layers), the event coordinator (which turns change events
// into Requests) and the CDN purger (which sends them to providers).
//
// URLs and path prefixes are turned into implicit tags, so that every kind of
// invalidation is a tag invalidation and costs O(1) per tag in every layer:
// a stored response carries the tag of its URL and one tag per leading path
// segment run ("/a/b" carries path:/, path:/a and path:/a/b), and a prefix
// purge of "/a" invalidates the single tag path:/a.
package invalidation
