package headers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ParseVary returns the canonical, sorted, de-duplicated request header
// names a response's Vary field lists, and star when it lists "*" (such a
// response is never reused, RFC 9111 4.1).
func ParseVary(h http.Header) (names []string, star bool) {
	for _, line := range h.Values("Vary") {
		for _, n := range strings.Split(line, ",") {
			n = strings.TrimSpace(n)
			switch {
			case n == "":
			case n == "*":
				star = true
			default:
				names = append(names, http.CanonicalHeaderKey(n))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), star
}

// Encoding buckets: the only values NormalizeAcceptEncoding returns, so one
// URL has at most four encoded variants however browsers spell the field.
const (
	EncodingIdentity = ""
	EncodingGzip     = "gzip"
	EncodingBr       = "br"
	EncodingBrGzip   = "br, gzip"
)

// NormalizeAcceptEncoding buckets an Accept-Encoding value by the encodings
// a cache can serve as stored (br, gzip): the result is both the variant
// key and the value forwarded to the origin, so the stored variant is
// always acceptable to every client of its bucket. q=0 excludes an
// encoding; "*" accepts both.
func NormalizeAcceptEncoding(v string) string {
	var br, gzip, star, brOff, gzipOff bool
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.TrimSpace(coding)
		off := qZero(params)
		switch {
		case strings.EqualFold(coding, "br"):
			br, brOff = !off, off
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			gzip, gzipOff = !off, off
		case coding == "*":
			star = !off
		}
	}
	if star {
		br = br || !brOff
		gzip = gzip || !gzipOff
	}
	switch {
	case br && gzip:
		return EncodingBrGzip
	case br:
		return EncodingBr
	case gzip:
		return EncodingGzip
	}
	return EncodingIdentity
}

// qZero reports whether params (after the ';') give q=0.
func qZero(params string) bool {
	return qValue(params) == 0
}

// qValue returns the weight of params, 1 when absent, 0 when malformed.
func qValue(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || q < 0 || q > 1 {
				return 0
			}
			return q
		}
	}
	return 1
}

// NegotiateLocale picks the one of locales (in preference order, the first
// being the default) that best matches an Accept-Language value (RFC 4647
// basic filtering, by q): "de-AT" matches "de" and "de" matches "de-DE".
// It returns locales[0] when nothing matches, "" when locales is empty. The
// result is what the origin is sent and part of the cache key, so a page is
// stored under exactly the locale it was rendered in.
func NegotiateLocale(acceptLanguage string, locales []string) string {
	if len(locales) == 0 {
		return ""
	}
	best, bestQ := locales[0], 0.0
	for v := acceptLanguage; v != ""; {
		var item string
		item, v, _ = strings.Cut(v, ",")
		tag, params, _ := strings.Cut(item, ";")
		tag = strings.TrimSpace(tag)
		q := qValue(params)
		if tag == "" || q <= bestQ {
			continue
		}
		if l := matchLocale(tag, locales); l != "" {
			best, bestQ = l, q
		}
	}
	return best
}

func matchLocale(tag string, locales []string) string {
	if tag == "*" {
		return locales[0]
	}
	for _, l := range locales { // exact match first
		if strings.EqualFold(l, tag) {
			return l
		}
	}
	for _, l := range locales {
		if prefixOf(tag, l) || prefixOf(l, tag) {
			return l
		}
	}
	return ""
}

// prefixOf reports whether range r covers tag t on a subtag boundary.
func prefixOf(r, t string) bool {
	return len(t) > len(r) && t[len(r)] == '-' && strings.EqualFold(t[:len(r)], r)
}

// NormalizeVaryValue returns the value of request header name that selects
// a variant: Accept-Encoding bucketed, Accept-Language negotiated to
// locales (when policy lists them), anything else its field lines joined
// with surrounding space removed.
func NormalizeVaryValue(name string, h http.Header, locales []string) string {
	switch name {
	case "Accept-Encoding":
		return NormalizeAcceptEncoding(strings.Join(h.Values(name), ","))
	case "Accept-Language":
		if len(locales) > 0 {
			return NegotiateLocale(strings.Join(h.Values(name), ","), locales)
		}
	}
	vs := h.Values(name)
	if len(vs) == 1 {
		return strings.TrimSpace(vs[0])
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.TrimSpace(v)
	}
	return strings.Join(out, ",")
}
