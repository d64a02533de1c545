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
// a variant, the same for every spelling of an equivalent request
// (PITFALLS 9): Accept-Encoding bucketed; Accept-Language negotiated to
// locales when policy lists them, else, like Accept-Charset and Accept,
// normalised as a weighted list (normalizeWeighted); anything else its
// field lines joined with surrounding space removed, since its syntax (and
// whether its case matters) is not known.
func NormalizeVaryValue(name string, h http.Header, locales []string) string {
	switch name {
	case "Accept-Encoding":
		return NormalizeAcceptEncoding(strings.Join(h.Values(name), ","))
	case "Accept-Language":
		if len(locales) > 0 {
			return NegotiateLocale(strings.Join(h.Values(name), ","), locales)
		}
		return normalizeWeighted(h.Values(name), false)
	case "Accept-Charset":
		return normalizeWeighted(h.Values(name), false)
	case "Accept":
		return normalizeWeighted(h.Values(name), true)
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

// weighted is one member of a weighted list: its value and q in
// thousandths (RFC 9110 12.4.2 allows three decimals).
type weighted struct {
	value string
	q     int
}

// normalizeWeighted rewrites a weighted list (Accept-Language,
// Accept-Charset, Accept; RFC 9110 12.5) so that equivalent field values
// are equal: members lower-cased (language ranges, charsets and media
// types are case-insensitive), without whitespace, in order of weight
// (members of equal weight keep their order, which may express a
// preference), each once, with q written only when below 1 and in its
// shortest form. A member with q=0 is dropped unless the list has a
// wildcard it restricts (a member not listed is not acceptable either). A
// malformed q counts as 0, as in negotiation. With params (Accept), a
// member's parameters other than q are kept, their names lower-cased and
// their values as sent (a parameter value may be case-sensitive).
func normalizeWeighted(lines []string, params bool) string {
	var ms []weighted
	wildcard := false
	for _, line := range lines {
		for item := range strings.SplitSeq(line, ",") {
			m, ok := parseWeighted(item, params)
			if !ok {
				continue
			}
			if m.value == "*" || strings.HasSuffix(m.value, "/*") {
				wildcard = true
			}
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(a, b weighted) int { return b.q - a.q })
	var b strings.Builder
	var seen map[string]struct{} // for long lists; short ones are scanned
	if len(ms) > 16 {
		seen = make(map[string]struct{}, len(ms))
	}
	for i, m := range ms {
		if m.q == 0 && !wildcard || seen != nil && hasKey(seen, m.value) ||
			seen == nil && slices.ContainsFunc(ms[:i], func(o weighted) bool { return o.value == m.value }) {
			continue
		}
		if seen != nil {
			seen[m.value] = struct{}{}
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.value)
		if m.q < 1000 {
			b.WriteString(";q=")
			b.WriteString(formatQ(m.q))
		}
	}
	return b.String()
}

// parseWeighted parses one member of a weighted list.
func parseWeighted(item string, params bool) (weighted, bool) {
	value, rest, _ := strings.Cut(item, ";")
	value = strings.ToLower(strings.TrimSpace(value))
	if value == "" {
		return weighted{}, false
	}
	m := weighted{value: value, q: 1000}
	var kept []string
	for rest != "" {
		var p string
		p, rest, _ = strings.Cut(rest, ";")
		k, v, _ := strings.Cut(p, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch {
		case k == "q":
			m.q = parseQ(v)
			// Parameters after q are accept-ext (RFC 9110 12.5.1): kept
			// for Accept, like the others.
		case k != "" && params:
			kept = append(kept, k+"="+v)
		}
	}
	if len(kept) > 0 {
		m.value += ";" + strings.Join(kept, ";")
	}
	return m, true
}

// parseQ returns a qvalue in thousandths, 0 when malformed (RFC 9110
// 12.4.2: "0" or "1" followed by up to three decimals, at most 1).
func parseQ(v string) int {
	if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
		return 0
	}
	q := int(v[0]-'0') * 1000
	if len(v) > 1 {
		if v[1] != '.' {
			return 0
		}
		scale := 100
		for _, c := range v[2:] {
			if c < '0' || c > '9' {
				return 0
			}
			q += int(c-'0') * scale
			scale /= 10
		}
	}
	if q > 1000 {
		return 0
	}
	return q
}

// formatQ writes thousandths below 1000 as a qvalue's shortest form.
func formatQ(q int) string {
	s := strconv.Itoa(1000 + q)[1:] // three digits
	s = strings.TrimRight(s, "0")
	if s == "" {
		return "0"
	}
	return "0." + s
}

func hasKey(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}
