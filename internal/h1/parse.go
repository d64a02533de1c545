package h1

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// maxHeaderLines bounds the header fields of a head the lane takes; a
// longer head is handed off (net/http has its own, byte-based limit).
const maxHeaderLines = 100

// Hand-off reasons: why the lane left a request to net/http. They are
// constants so that deciding costs no allocation; tests assert them.
const (
	reasonMethod     = "method not GET or HEAD"
	reasonVersion    = "request line not ending in HTTP/1.1"
	reasonTarget     = "target not origin-form"
	reasonTargetByte = "target byte outside visible ASCII"
	reasonURL        = "target not parsed by url.ParseRequestURI"
	reasonFold       = "obs-fold"
	reasonLine       = "header line without a token and colon"
	reasonValue      = "header value with a control byte"
	reasonTooMany    = "too many header lines"
	reasonHost       = "not exactly one valid Host"
	reasonBody       = "Content-Length other than 0"
	reasonTE         = "Transfer-Encoding"
	reasonUpgrade    = "Upgrade or Connection: upgrade"
	reasonExpect     = "Expect"
	reasonBareLF     = "bare LF"
	reasonTooLarge   = "head larger than the lane's buffer"
)

// head is a request head the lane takes: every string is a substring of
// one copy of the raw head.
type head struct {
	method, target, host string
	url                  *url.URL
	header               http.Header
	close                bool
}

// parseHead parses raw, a complete head ending in CRLFCRLF, and returns
// the reason to hand it off, or "" when the lane may serve it. It accepts
// only what net/http would parse into the same request.
func parseHead(raw []byte) (h head, reason string) {
	s := string(raw)
	end := strings.Index(s, "\r\n")
	line := s[:end]
	var rest string
	switch {
	case strings.HasPrefix(line, "GET "):
		h.method, rest = "GET", line[4:]
	case strings.HasPrefix(line, "HEAD "):
		h.method, rest = "HEAD", line[5:]
	default:
		return h, reasonMethod
	}
	target, ok := strings.CutSuffix(rest, " HTTP/1.1")
	if !ok {
		return h, reasonVersion
	}
	if target == "" || target[0] != '/' {
		return h, reasonTarget
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f {
			return h, reasonTargetByte
		}
	}
	h.target = target

	s = s[end+2:]
	n := strings.Count(s, "\r\n") - 1 // the last one ends the head
	if n > maxHeaderLines {
		return h, reasonTooMany
	}
	h.header = make(http.Header, n)
	vals := make([]string, n)
	hosts := 0
	for {
		end = strings.Index(s, "\r\n")
		line, s = s[:end], s[end+2:]
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return h, reasonFold
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !httpguts.ValidHeaderFieldName(name) {
			return h, reasonLine
		}
		value = strings.Trim(value, " \t") // OWS only: a CR or LF left in is refused below
		if !validValue(value) {
			return h, reasonValue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		switch key {
		case "Host":
			hosts++
			h.host = value
			continue // net/http's server deletes it from the header
		case "Content-Length":
			if value != "0" || h.header[key] != nil {
				return h, reasonBody
			}
		case "Transfer-Encoding":
			return h, reasonTE
		case "Upgrade":
			return h, reasonUpgrade
		case "Expect":
			return h, reasonExpect
		case "Connection":
			if httpguts.HeaderValuesContainsToken([]string{value}, "upgrade") {
				return h, reasonUpgrade
			}
		}
		if vv := h.header[key]; vv != nil {
			h.header[key] = append(vv, value)
			continue
		}
		vals[0] = value
		h.header[key], vals = vals[:1:1], vals[1:]
	}
	if hosts != 1 || !httpguts.ValidHostHeader(h.host) {
		return h, reasonHost
	}
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Host != "" {
		return h, reasonURL
	}
	h.url = u
	// As net/http's fixPragmaCacheControl: Pragma: no-cache alone means
	// Cache-Control: no-cache.
	if hp := h.header["Pragma"]; len(hp) > 0 && hp[0] == "no-cache" {
		if _, ok := h.header["Cache-Control"]; !ok {
			h.header["Cache-Control"] = []string{"no-cache"}
		}
	}
	h.close = httpguts.HeaderValuesContainsToken(h.header["Connection"], "close")
	return h, ""
}

// validValue reports whether v has no control byte other than HTAB (so no
// CR or LF: a bare one never reaches a handler through the lane).
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// startsLikeLane reports whether buffered bytes may still begin a request
// the lane takes, so a connection speaking anything else (another method,
// the HTTP/2 preface) is handed off before its head is complete.
func startsLikeLane(b []byte) bool {
	for _, m := range [...]string{"GET ", "HEAD "} {
		n := min(len(b), len(m))
		if string(b[:n]) == m[:n] {
			return true
		}
	}
	return false
}
