package policy

import "time"

// Decision is what policy says about one request, decided once before the
// cache is consulted and applied again to the response.
type Decision struct {
	// Rule names the matched policy rule ("default" when none matched).
	Rule string
	// Tenant namespaces cache keys and tags; never empty.
	Tenant string

	// Private requests are never looked up in nor stored to a shared layer,
	// and are answered with "Cache-Control: private, no-store".
	Private bool
	// PrivateReason says why, for logs and Vary: "authorization",
	// "cookie:<name>", "route:<rule>".
	PrivateReason string
	// Bypass (staff preview) sends the request to the origin uncached and
	// stores nothing, without marking the response private.
	Bypass bool
	// BypassReason says what asked for the bypass, for logs and Vary:
	// "cookie:<name>" or "header:<Name>".
	BypassReason string

	// Locales, when set, are what Accept-Language is normalized to (the
	// first is the default); the normalized value is part of the cache key.
	Locales []string

	// TTL, when set, overrides the freshness lifetime the origin gave for
	// the gateway's own layers; nil respects the origin.
	TTL *time.Duration
	// AutoTTL, when set (ttl: auto), makes the gateway learn the TTL from
	// the changes it observes, within its bounds; TTL is then nil.
	AutoTTL *AutoTTL
	// OverrideOrigin: TTL, the stale windows and the rule's directives
	// apply whatever the origin's no-store, private, no-cache or
	// must-revalidate say (RuleConfig.Origin "override"). Never set on a
	// private decision.
	OverrideOrigin bool
	// StaleWhileRevalidate and StaleIfError, when set, override the
	// origin's RFC 5861 directives for the gateway's layers.
	StaleWhileRevalidate *time.Duration
	// EarlyRefreshBeta, when set, overrides the gateway's XFetch beta of
	// early refresh for the route; 0 turns it off.
	EarlyRefreshBeta *float64
	StaleIfError     *time.Duration

	// BrowserCacheControl, when set, replaces the Cache-Control sent to the
	// client (for public responses; private ones are always private, no-store).
	BrowserCacheControl string
	// CDNCacheControl, when set, is sent to the CDN in CDNCacheControlHeader
	// ("CDN-Cache-Control" of RFC 9213, "Cloudflare-CDN-Cache-Control",
	// "Surrogate-Control").
	CDNCacheControl       string
	CDNCacheControlHeader string

	// Tags are extra tags the rule adds to the response (templates expanded).
	Tags []string

	// ESI is the rule's RuleConfig.ESI; set on private and bypassed
	// decisions too (their responses are assembled all the same).
	ESI string
}
