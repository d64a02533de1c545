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

// Forward reasons (RFC 9211 2.2). "method" is used for methods a cache never
// serves, such as POST.
const (
	fwdMiss     = "miss"
	fwdStale    = "stale"
	fwdBypass   = "bypass"
	fwdRequest  = "request"
	fwdVaryMiss = "vary-miss"
	fwdMethod   = "method"
)
