package gateway

import "strconv"

// cacheStatus builds one RFC 9211 Cache-Status member: the cache's name
// and parameters in the order they are added.
type cacheStatus struct{ b []byte }

func newStatus(name string) cacheStatus {
	s := cacheStatus{b: make([]byte, 0, 64)}
	s.b = append(s.b, name...)
	return s
}

func (s *cacheStatus) flag(name string) { s.b = append(s.b, "; "...); s.b = append(s.b, name...) }

func (s *cacheStatus) token(name, value string) {
	s.b = append(s.b, "; "...)
	s.b = append(s.b, name...)
	s.b = append(s.b, '=')
	s.b = append(s.b, value...)
}

func (s *cacheStatus) int(name string, v int64) {
	s.b = append(s.b, "; "...)
	s.b = append(s.b, name...)
	s.b = append(s.b, '=')
	s.b = strconv.AppendInt(s.b, v, 10)
}

func (s *cacheStatus) String() string { return string(s.b) }

// Forward reasons (RFC 9211 2.2).
//
//   - uri-miss: no layer held anything under the request's primary key, and
//     every layer answered. The stores keep no trace of an invalidated or
//     evicted entry (invalidation removes, as RFC 9111 4.4 allows), so a
//     URI whose entry was purged is a uri-miss too: the cache holds no
//     response for it, which is what RFC 9211 asks uri-miss to say.
//   - vary-miss: a variant record was found under the primary key, but not
//     the variant this request selects.
//   - miss: the generic one, where the gateway cannot tell the two apart:
//     a layer failed its lookup (what it holds is unknown), or the primary
//     key holds the negotiated locale, so another locale's response to the
//     same URI may be stored (a vary-miss the key cannot see).
//   - method: methods a cache never serves, such as POST (RFC 9211's
//     "the request method's semantics require the request to be
//     forwarded").
//   - bypass: private and staff-bypass requests, which policy keeps out of
//     the cache.
const (
	fwdMiss     = "miss"
	fwdURIMiss  = "uri-miss"
	fwdStale    = "stale"
	fwdBypass   = "bypass"
	fwdRequest  = "request"
	fwdVaryMiss = "vary-miss"
	fwdMethod   = "method"
)
