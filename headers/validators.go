package headers

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ETag is a parsed entity tag (RFC 9110 8.8.3).
type ETag struct {
	Weak   bool
	Opaque string // without the quotes
}

// String formats the tag as a field value: W/"x" or "x".
func (t ETag) String() string {
	if t.Weak {
		return `W/"` + t.Opaque + `"`
	}
	return `"` + t.Opaque + `"`
}

// ErrBadETag is wrapped by every ETag parse error.
var ErrBadETag = errors.New("malformed entity tag")

// ParseETag parses one entity tag.
func ParseETag(s string) (ETag, error) {
	t, rest, err := scanETag(strings.TrimSpace(s))
	if err != nil {
		return ETag{}, err
	}
	if strings.TrimSpace(rest) != "" {
		return ETag{}, fmt.Errorf("%w: trailing %q", ErrBadETag, rest)
	}
	return t, nil
}

func scanETag(s string) (ETag, string, error) {
	var t ETag
	if strings.HasPrefix(s, "W/") {
		t.Weak, s = true, s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return ETag{}, "", fmt.Errorf("%w: %q does not start with a quote", ErrBadETag, s)
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return ETag{}, "", fmt.Errorf("%w: %q has no closing quote", ErrBadETag, s)
	}
	t.Opaque = s[1 : end+1]
	for i := 0; i < len(t.Opaque); i++ {
		if c := t.Opaque[i]; c < 0x21 || c == 0x7f { // etagc excludes CTLs and space
			return ETag{}, "", fmt.Errorf("%w: control or space character in %q", ErrBadETag, t.Opaque)
		}
	}
	return t, s[end+2:], nil
}

// StrongMatch is RFC 9110's strong comparison: both strong, same opaque tag.
func StrongMatch(a, b ETag) bool { return !a.Weak && !b.Weak && a.Opaque == b.Opaque }

// WeakMatch is RFC 9110's weak comparison: same opaque tag, either weak.
func WeakMatch(a, b ETag) bool { return a.Opaque == b.Opaque }

// BodyETag returns a strong entity tag derived from body: 128 bits of its
// SHA-256, for a cacheable response the origin sent without a validator, so
// clients can revalidate against the cache. Different bytes (another
// Content-Encoding) give another tag, as a strong validator must.
func BodyETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}
