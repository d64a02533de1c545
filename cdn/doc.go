// Package cdn owns the facts about the CDN providers cachegate works with
// that more than one package must agree on: each provider's name, the
// header it reads a response's tags from (its separator and documented
// limits), the targeted Cache-Control field it reads by default, the
// headers that tell it not to store a response, its purge API's per-call
// limits, and Cloudflare's plans with their purge rate limits.
//
// headers (tag emission), config (the provider names and the default CDN
// header), the purge providers (their default limits) and the assembly
// (the Cloudflare plan) all read them here, so a limit changed here
// changes everywhere at once. The package is data and does no I/O; it
// imports nothing of cachegate.
package cdn
