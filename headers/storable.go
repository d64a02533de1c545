package headers

import (
	"net/http"
	"time"
)

// Details a Cache-Status carries when a response was not stored (RFC 9211
// detail), one per reason Storable gives.
const (
	DetailRequestNoStore = "request-no-store"
	DetailStatus         = "status"          // 1xx, 206, 304, or must-understand on an unknown status
	DetailSetCookie      = "set-cookie"      // never stored (a departure: RFC 9111 allows it)
	DetailVaryStar       = "vary-star"       // no request can select it
	DetailOriginNoStore  = "origin-no-store" // no-store
	DetailOriginPrivate  = "origin-private"  // private: a shared cache may not store it
	DetailNoFreshness    = "no-freshness"    // no explicit freshness, no validator, no policy TTL
	DetailNoValidator    = "stale-no-validator"
	DetailTooLarge       = "too-large"
	// DetailPrecondition: the origin evaluated the request's own
	// precondition (If-Match, If-Unmodified-Since) and failed it; that
	// answer is the request's, not the resource's.
	DetailPrecondition = "precondition"
)

// StoreInput is what decides whether a shared cache may store a response
// to a GET or HEAD (RFC 9111 3).
type StoreInput struct {
	Status int
	Header http.Header
	// CC is the response's directives as this cache reads them:
	// CacheDirectives, the targeted field when one applies.
	CC CacheControl
	// RequestNoStore: the request said no-store.
	RequestNoStore bool
	// Preconditioned: the request sent to the origin carried If-Match or
	// If-Unmodified-Since.
	Preconditioned bool
	// Override: the policy overrides the origin's storage and freshness
	// directives (no-store, private, no-cache, must-revalidate) for this
	// route. Set-Cookie, Vary: * and the status still decide.
	Override bool
	// PolicyTTL: the policy gives the response a lifetime of its own.
	PolicyTTL bool
	// Heuristic: heuristic freshness (RFC 9111 4.2.2) is enabled.
	Heuristic bool
	// ResponseTime is when the response arrived.
	ResponseTime time.Time
}

// Storable decides whether the response may be stored by a shared cache:
// ok, or the Cache-Status detail saying why not. It is the one place that
// decides it; ShareAs makes what clients and CDNs are told agree with it.
//
// Beyond RFC 9111 3: any final status may be stored when it states
// explicit freshness; a response with none is stored only when the policy
// gives it a TTL, heuristic freshness is on, or it has a validator and a
// heuristically cacheable status (then it is stale on arrival and
// revalidated on every use, which is not heuristic freshness).
func Storable(in StoreInput) (ok bool, detail string) {
	if in.RequestNoStore {
		return false, DetailRequestNoStore
	}
	if in.Preconditioned && (in.Status < 200 || in.Status > 299) {
		return false, DetailPrecondition
	}
	if d := responseVeto(in.Status, in.Header, in.CC, in.Override); d != "" {
		return false, d
	}
	if in.PolicyTTL {
		return true, ""
	}
	if _, explicit := FreshnessLifetime(in.CC, in.Header, in.ResponseTime); explicit {
		return true, ""
	}
	if in.Heuristic && HeuristicLifetime(in.Status, in.Header, in.ResponseTime) > 0 {
		return true, ""
	}
	if HeuristicallyCacheable(in.Status) && HasValidator(in.Header) {
		return true, ""
	}
	return false, DetailNoFreshness
}

// responseVeto is what in the response itself forbids storing it, or "".
func responseVeto(status int, h http.Header, cc CacheControl, override bool) string {
	switch {
	case status < 200 || status == http.StatusPartialContent || status == http.StatusNotModified || status > 599:
		return DetailStatus
	case cc.MustUnderstand && !UnderstoodStatus(status):
		return DetailStatus
	case len(h["Set-Cookie"]) > 0:
		return DetailSetCookie
	case varyStar(h):
		return DetailVaryStar
	case override:
		return ""
	case cc.NoStore && !(cc.MustUnderstand && UnderstoodStatus(status)):
		return DetailOriginNoStore
	case cc.Private:
		return DetailOriginPrivate
	}
	return ""
}

// Share is what a response may be shared as downstream.
type Share uint8

const (
	// SharePublic: the policy's client and CDN directives and the tags apply.
	SharePublic Share = iota
	// ShareOrigin: the origin's Cache-Control stands (an origin's private
	// or no-store, Vary: *, a status not stored); no tags and no policy
	// directives are added, so nothing downstream shares what the gateway
	// would not.
	ShareOrigin
	// SharePrivate: sent as "private, no-store" (Set-Cookie).
	SharePrivate
)

// ShareAs decides what a response the gateway sends to a public request
// may be shared as, from the same facts Storable reads: whatever makes a
// response unstorable by its own content is not announced as shareable.
// A public response whose status is not heuristically cacheable (a 500
// with max-age=5) keeps the origin's directives too: a rule's CDN TTL is
// meant for pages, not for errors.
func ShareAs(status int, h http.Header, cc CacheControl, override bool) Share {
	switch responseVeto(status, h, cc, override) {
	case "":
	case DetailSetCookie:
		return SharePrivate
	default:
		return ShareOrigin
	}
	if !HeuristicallyCacheable(status) {
		return ShareOrigin
	}
	return SharePublic
}

// HasValidator reports whether the response carries a validator a
// revalidation can send (ETag or Last-Modified).
func HasValidator(h http.Header) bool {
	return len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
}

// HeuristicallyCacheable are the status codes RFC 9110 15.1 lets a cache
// store without explicit freshness.
func HeuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// UnderstoodStatus reports whether the cache implements the caching rules
// of status (for must-understand): the final status codes RFC 9110
// defines, and 429.
func UnderstoodStatus(status int) bool {
	switch {
	case status >= 200 && status <= 206, status >= 300 && status <= 305,
		status == 307, status == 308, status >= 400 && status <= 417,
		status == 421, status == 422, status == 426, status == 429,
		status >= 500 && status <= 505:
		return true
	}
	return false
}

func varyStar(h http.Header) bool {
	if len(h["Vary"]) == 0 {
		return false // the common case, without ParseVary's work
	}
	_, star := ParseVary(h)
	return star
}
