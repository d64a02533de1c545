package uri

import "strings"

// Target returns the canonical form of a request target (path and optional
// query) under RFC 3986 6.2.2: the hex digits of percent escapes upper-cased
// (6.2.2.1) and escapes of unreserved characters (ALPHA, DIGIT, '-', '.',
// '_', '~') decoded (6.2.2.2). Both are equivalences every URI consumer must
// honour, so the origin is sent the canonical form too.
//
// Nothing else changes: reserved characters stay escaped ("%2F" is not
// "/"), '+' is not a space, the query keeps its order, and a '%' that does
// not start a valid escape is kept as it is. Dot segments are not removed
// (6.2.2.3): Go's server and most origins route "/a/../b" differently from
// "/b", and the key must be what the origin sees.
//
// A target with a '%' that does not start a valid escape is not a URI and
// is returned unchanged: decoding around it could make a new escape
// ("%7%41" would become "%7A").
//
// A target without '%' is returned without allocating.
func Target(t string) string {
	i := strings.IndexByte(t, '%')
	if i < 0 {
		return t
	}
	for j := i; j < len(t); j++ {
		if t[j] == '%' && (j+2 >= len(t) || !isHex(t[j+1]) || !isHex(t[j+2])) {
			return t
		}
	}
	var b []byte
	for ; i < len(t); i++ {
		c := t[i]
		if c != '%' {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		d := unhex(t[i+1])<<4 | unhex(t[i+2])
		hi, lo := upperHex(t[i+1]), upperHex(t[i+2])
		switch {
		case unreserved(d):
			if b == nil {
				b = append(make([]byte, 0, len(t)), t[:i]...)
			}
			b = append(b, d)
		case hi != t[i+1] || lo != t[i+2]:
			if b == nil {
				b = append(make([]byte, 0, len(t)), t[:i]...)
			}
			b = append(b, '%', hi, lo)
		case b != nil:
			b = append(b, '%', hi, lo)
		}
		i += 2
	}
	if b == nil {
		return t
	}
	return string(b)
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
