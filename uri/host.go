package uri

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrBadHost is wrapped by every error of Host.
var ErrBadHost = errors.New("malformed Host")

// MaxHostLength bounds a host name (a DNS name has at most 253 characters).
const MaxHostLength = 255

// Host returns the canonical form of a Host header value (RFC 9110 7.2:
// uri-host [":" port]): lower-cased, without the port and without a
// trailing dot; an IPv6 literal keeps its brackets and is written in its
// canonical form. An empty value (an HTTP/1.0 request without Host) is
// returned as is.
//
// Only what a real host can be is accepted: DNS names made of letters,
// digits, '-', '_' and '.', IPv4 addresses and bracketed IPv6 addresses,
// with an optional decimal port. Anything else (a second host after the
// colon, as in "a.example:evil.example", user info, spaces, percent
// escapes) is an error: the value would reach the origin unlike the key it
// was cached under, which is how a cache is poisoned.
//
// A value already canonical is returned without allocating.
func Host(raw string) (string, error) {
	if canonicalName(raw) {
		return raw, nil
	}
	if raw == "" {
		return "", nil
	}
	host, port := raw, ""
	if raw[0] == '[' {
		end := strings.IndexByte(raw, ']')
		if end < 0 {
			return "", fmt.Errorf("%w: %q: unclosed '['", ErrBadHost, raw)
		}
		host, port = raw[:end+1], raw[end+1:]
		if port != "" && port[0] != ':' {
			return "", fmt.Errorf("%w: %q: text after ']'", ErrBadHost, raw)
		}
	} else if i := strings.IndexByte(raw, ':'); i >= 0 {
		host, port = raw[:i], raw[i:]
	}
	if port != "" {
		digits := port[1:]
		if len(digits) > 5 {
			return "", fmt.Errorf("%w: %q: port is not a number up to 65535", ErrBadHost, raw)
		}
		for i := 0; i < len(digits); i++ {
			if digits[i] < '0' || digits[i] > '9' {
				return "", fmt.Errorf("%w: %q: port is not a number", ErrBadHost, raw)
			}
		}
	}
	if host != "" && host[0] == '[' {
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", fmt.Errorf("%w: %q: not an IPv6 address", ErrBadHost, raw)
		}
		if c := "[" + a.String() + "]"; c != host {
			return c, nil
		}
		return host, nil
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > MaxHostLength || host[len(host)-1] == '.' {
		return "", fmt.Errorf("%w: %q: empty or too long", ErrBadHost, raw)
	}
	upper := false
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || host[i-1] == '.' {
				return "", fmt.Errorf("%w: %q: empty label", ErrBadHost, raw)
			}
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			return "", fmt.Errorf("%w: %q: %q is not allowed in a host name", ErrBadHost, raw, c)
		}
	}
	if upper {
		return strings.ToLower(host), nil
	}
	return host, nil
}

// nameByte marks the bytes of a canonical DNS name other than '.'.
var nameByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// canonicalName is Host's fast path, one pass for the common case: a
// lower-case name without port, trailing dot or empty label.
func canonicalName(s string) bool {
	if s == "" || len(s) > MaxHostLength || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !nameByte[c] && (c != '.' || s[i-1] == '.') {
			return false
		}
	}
	return true
}

// HostOrRaw is Host for callers that cannot reject a request (the policy
// engine deciding a tenant): a malformed value is returned unchanged, which
// is never a valid tenant name. The gateway rejects such requests before
// anything is decided.
func HostOrRaw(raw string) string {
	h, err := Host(raw)
	if err != nil {
		return raw
	}
	return h
}
