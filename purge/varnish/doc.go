// Package varnish is the purge.Purger for Varnish Cache with the xkey vmod,
// speaking to the VCL the project ships (deploy/varnish/cachegate.vcl) over
// plain HTTP: PURGE with an xkey-purge or xkey-softpurge header for tags,
// BAN with X-Ban-Url, X-Ban-Prefix, X-Ban-Host or X-Ban-Tenant for the
// rest. Every configured node gets every purge; a purge is confirmed only
// when each node answered as that VCL does, so a Varnish without it (which
// would pipe PURGE to the backend and maybe get a 200) confirms nothing.
//
// Varnish has no zones. A batch's Zone matters only with Everything, where
// it must be the tenant: every object with a key "tenant:..." is banned.
// With the purge dispatcher that means mapping each tenant to itself in
// Provider.Zones, or using a shared Provider.Zone, in which case the
// dispatcher turns Everything into a host ban or the tenant's "path:/" tag.
//
// There is no maintained Go client for this: the protocol is the VCL's own,
// a handful of headers, so it is written here against net/http.
package varnish
