package headers

import (
	"net/http"
	"strings"
	"time"
)

// NotModified evaluates a GET or HEAD request's If-None-Match and
// If-Modified-Since (RFC 9110 13.2.2) against the selected response's
// header: true means answer 304. If-None-Match uses weak comparison and,
// when present, takes precedence over If-Modified-Since; a malformed
// If-None-Match matches nothing. Conditionals apply only to 2xx responses.
func NotModified(method string, req http.Header, status int, resp http.Header) bool {
	return NotModifiedBy(method, req, status, resp.Get("ETag"), resp["Last-Modified"], resp["Date"])
}

// NotModifiedBy is NotModified for a stored response known by its
// validator fields alone (its ETag value, Last-Modified and Date lines),
// for a caller that keeps no map of them.
func NotModifiedBy(method string, req http.Header, status int, etag string, lastModified, date []string) bool {
	if method != http.MethodGet && method != http.MethodHead || status < 200 || status > 299 {
		return false
	}
	if inm := req.Values("If-None-Match"); len(inm) > 0 {
		tag, err := ParseETag(etag)
		if err != nil {
			return false
		}
		return ETagListMatches(inm, tag)
	}
	ims := req["If-Modified-Since"]
	if len(ims) == 0 {
		return false
	}
	// An If-Modified-Since that is not one valid HTTP-date is ignored.
	since, ok := singleDate(ims, time.Now())
	if !ok {
		return false
	}
	// Without a Last-Modified, the stored response's Date is when it was
	// last known current (RFC 9111 4.3.2).
	lm, ok := singleDate(lastModified, time.Now())
	if !ok {
		if lm, ok = singleDate(date, time.Now()); !ok {
			return false
		}
	}
	return !lm.After(since)
}

// ETagListMatches reports whether an If-None-Match list ("*" or entity tags,
// possibly over several field lines) weakly matches etag.
func ETagListMatches(lines []string, etag ETag) bool {
	for _, line := range lines {
		s := strings.TrimSpace(line)
		if s == "*" {
			return true
		}
		for s != "" {
			t, rest, err := scanETag(s)
			if err != nil {
				return false
			}
			if WeakMatch(t, etag) {
				return true
			}
			s = strings.TrimLeft(rest, " \t,")
		}
	}
	return false
}

// Fields of a stored response that a 304 does not update (RFC 9111 3.2:
// Content-Length and the other framing fields describe the stored body,
// not the 304; the hop-by-hop ones belong to the 304's connection).
var keepOn304 = map[string]bool{
	"Content-Length":    true,
	"Content-Encoding":  true,
	"Transfer-Encoding": true,
	"Content-Range":     true,
	"Connection":        true,
	"Keep-Alive":        true,
	"Trailer":           true,
	"Upgrade":           true,
	"Te":                true,
}

// Update304 returns a copy of stored with the fields of a 304 response
// replacing the stored ones (RFC 9111 3.2 and 4.3.4), so the refreshed
// entry carries the new Cache-Control, Date, Expires, ETag.
func Update304(stored, notModified http.Header) http.Header {
	out := stored.Clone()
	for k, vs := range notModified {
		if keepOn304[k] {
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ValidatorHeaders sets the conditional request fields an origin
// revalidation of a stored response uses (If-None-Match from its ETag,
// If-Modified-Since from its Last-Modified), replacing the client's. It
// reports whether the stored response had a validator.
func ValidatorHeaders(out http.Header, stored http.Header) bool {
	out.Del("If-None-Match")
	out.Del("If-Modified-Since")
	ok := false
	if etag := stored.Get("ETag"); etag != "" {
		out.Set("If-None-Match", etag)
		ok = true
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		out.Set("If-Modified-Since", lm)
		ok = true
	}
	return ok
}
