package headers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/cdn"
)

// HeaderCachegateCacheControl is cachegate's own targeted cache-control
// field (RFC 9213): directives for the gateway alone, never passed on.
const HeaderCachegateCacheControl = "Cachegate-Cache-Control"

// DefaultTargetedFields are the targeted fields the gateway honours, in
// order, before Cache-Control: its own, then the one all CDNs read.
func DefaultTargetedFields() []string {
	return []string{HeaderCachegateCacheControl, cdn.HeaderCDNCacheControl}
}

// CheckTargetedField reports what is wrong with name as a targeted
// cache-control field: it must be a field name, and not Cache-Control
// itself (which is always read last).
func CheckTargetedField(name string) error {
	if name == "" {
		return fmt.Errorf("empty field name")
	}
	for i := 0; i < len(name); i++ {
		if !isTchar(name[i]) {
			return fmt.Errorf("%q is not a field name", name)
		}
	}
	if strings.EqualFold(name, "Cache-Control") {
		return fmt.Errorf("Cache-Control is always read, after the targeted fields")
	}
	return nil
}

func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// CacheDirectives are the directives this cache follows for its own
// storage and freshness (RFC 9213 2.2): those of the first of fields
// (canonical names) present and valid in h, else Cache-Control. A targeted
// field that is not a valid Structured Field Dictionary is ignored.
func CacheDirectives(h http.Header, fields []string) CacheControl {
	for _, name := range fields {
		if lines := h[name]; len(lines) > 0 {
			if cc, ok := ParseTargeted(lines); ok {
				return cc
			}
		}
	}
	cc, _ := ParseCacheControl(h["Cache-Control"])
	return cc
}

// ParseTargeted parses a targeted cache-control field (RFC 9213 2.1): an
// RFC 8941 Dictionary. ok is false when it is not one; the field is then
// ignored. A directive whose value has the wrong type is ignored; a
// boolean directive must be true (a bare key, or ?1) to count; integers
// past 2^31 count as 2^31 seconds.
func ParseTargeted(lines []string) (cc CacheControl, ok bool) {
	s := strings.Join(lines, ",")
	p := sfParser{s: s}
	p.ows()
	if p.i == len(p.s) {
		return cc, false // an empty field is not a dictionary to honour
	}
	for {
		key, ok := p.key()
		if !ok {
			return CacheControl{}, false
		}
		v := sfValue{kind: sfBool, b: true}
		if p.peek('=') {
			p.i++
			if v, ok = p.item(); !ok {
				return CacheControl{}, false
			}
		}
		if !p.params() {
			return CacheControl{}, false
		}
		cc.applyTargeted(key, v)
		p.ows()
		if p.i == len(p.s) {
			break
		}
		if !p.peek(',') {
			return CacheControl{}, false
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return CacheControl{}, false // trailing comma
		}
	}
	cc.Targeted = true
	return cc, true
}

// applyTargeted applies one dictionary member through the Cache-Control
// parser's own directive table; a value of the wrong type (an integer for
// a flag, a flag for a delta) leaves the directive unset.
func (cc *CacheControl) applyTargeted(key string, v sfValue) {
	switch key {
	case "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error":
		if v.kind == sfInteger && v.n >= 0 {
			cc.apply(key, strconv.FormatInt(v.n, 10), true)
		}
	default:
		if v.kind == sfBool && v.b {
			cc.apply(key, "", false)
		}
	}
}

type sfKind int

const (
	sfBool sfKind = iota
	sfInteger
	sfOther // decimal, string, token, byte sequence: valid, not used
)

type sfValue struct {
	kind sfKind
	b    bool
	n    int64
}

// sfParser reads the parts of an RFC 8941 Dictionary this cache needs,
// checking the rest is well formed.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *sfParser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *sfParser) sp() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// key: ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
func (p *sfParser) key() (string, bool) {
	start := p.i
	if p.i >= len(p.s) || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", false
	}
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], true
}

func (p *sfParser) params() bool {
	for p.peek(';') {
		p.i++
		p.sp()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek('=') {
			p.i++
			if _, ok := p.item(); !ok {
				return false
			}
		}
	}
	return true
}

// item reads a bare item.
func (p *sfParser) item() (sfValue, bool) {
	if p.i >= len(p.s) {
		return sfValue{}, false
	}
	switch c := p.s[p.i]; {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		p.i++
		for p.i < len(p.s) {
			switch c := p.s[p.i]; {
			case c == '\\':
				if p.i+1 >= len(p.s) || p.s[p.i+1] != '"' && p.s[p.i+1] != '\\' {
					return sfValue{}, false
				}
				p.i += 2
			case c == '"':
				p.i++
				return sfValue{kind: sfOther}, true
			case c < 0x20 || c > 0x7e:
				return sfValue{}, false
			default:
				p.i++
			}
		}
		return sfValue{}, false
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return sfValue{kind: sfBool, b: p.s[p.i-1] == '1'}, true
		}
		return sfValue{}, false
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return sfValue{}, false
		}
		for _, b := range []byte(p.s[p.i+1 : p.i+1+end]) {
			if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=') {
				return sfValue{}, false
			}
		}
		p.i += end + 2
		return sfValue{kind: sfOther}, true
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		p.i++
		for p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfValue{kind: sfOther}, true
	}
	return sfValue{}, false
}

// number reads an Integer (at most 15 digits) or a Decimal.
func (p *sfParser) number() (sfValue, bool) {
	neg := p.peek('-')
	if neg {
		p.i++
	}
	var n int64
	digits, frac := 0, -1
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if frac < 0 {
				n = n*10 + int64(c-'0')
			} else {
				frac++
			}
		case c == '.' && frac < 0 && digits > 0 && digits <= 12:
			frac = 0
		default:
			goto done
		}
		p.i++
	}
done:
	switch {
	case digits == 0:
		return sfValue{}, false
	case frac >= 0:
		if frac < 1 || frac > 3 {
			return sfValue{}, false
		}
		return sfValue{kind: sfOther}, true
	case digits > 15:
		return sfValue{}, false
	}
	if neg {
		n = -n
	}
	return sfValue{kind: sfInteger, n: n}, true
}
