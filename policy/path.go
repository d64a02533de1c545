package policy

import (
	"fmt"
	"strings"
)

// MaxPathParams bounds the named parameters of one path pattern, so that a
// match can capture them into a fixed array on the stack.
const MaxPathParams = 8

// PathPattern is a compiled route path. A pattern with no '*' and no '{' is
// a prefix on segment boundaries ("/account" matches /account and
// /account/x, not /accounts); otherwise it is a glob matched against the
// whole path: "{name}" matches one non-empty segment and captures it, "*"
// inside a segment matches any run of characters but '/', and "**" as the
// last segment matches any number of further segments. A final "{$}" makes
// a literal path exact, as in net/http's ServeMux ("/{$}" is the root
// only). One trailing slash of the request path is ignored.
//
// Both kinds compile to the same segment list (a prefix is its literal
// segments followed by "**"), so one matcher and one coverage check serve
// both. The matcher is hand-written rather than path.Match or a regexp
// because it must capture parameters without allocating and because the
// config checker needs to decide whether one pattern covers another, which
// neither library can answer.
type PathPattern struct {
	raw    string
	segs   []pathSeg
	params []string
}

type segKind uint8

const (
	segLit   segKind = iota // exact text
	segParam                // {name}: one non-empty segment, captured
	segGlob                 // text with '*' wildcards within one segment
	segRest                 // **: zero or more segments, last only
)

type pathSeg struct {
	kind  segKind
	lit   string   // segLit: the text; segGlob: the raw segment
	parts []string // segGlob: the text between '*'s
	param int      // segParam: index into params
}

// reservedPlaceholders are template names the policy fills itself; a path
// parameter may not shadow them.
var reservedPlaceholders = [...]string{"tenant", "host", "path"}

// CompilePath compiles a route path pattern; see PathPattern.
func CompilePath(s string) (*PathPattern, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("path pattern %q must start with /", s)
	}
	if strings.Contains(s, "//") {
		return nil, fmt.Errorf("path pattern %q has an empty segment (//)", s)
	}
	p := &PathPattern{raw: s}
	glob := strings.ContainsAny(s, "*{}")
	body := strings.Trim(s, "/")
	if b, ok := strings.CutSuffix(body, "{$}"); ok && (b == "" || strings.HasSuffix(b, "/")) {
		// "{$}" ends an exact match, as in net/http's ServeMux: "/{$}" is
		// the root only, "/companies/{$}" is /companies and /companies/.
		body = strings.TrimSuffix(b, "/")
		if strings.ContainsAny(body, "*{}") {
			return nil, fmt.Errorf("path pattern %q: {$} ends a literal path; a glob already matches exactly", s)
		}
		if body == "" {
			return p, nil
		}
	} else if body == "" {
		p.segs = []pathSeg{{kind: segRest}}
		return p, nil
	}
	raw := strings.Split(body, "/")
	for i, seg := range raw {
		switch {
		case seg == "{$}":
			return nil, fmt.Errorf("path pattern %q: {$} is only allowed at the end", s)
		case seg == "**":
			if i != len(raw)-1 {
				return nil, fmt.Errorf("path pattern %q: ** is only allowed as the last segment", s)
			}
			p.segs = append(p.segs, pathSeg{kind: segRest})
		case strings.Contains(seg, "**"):
			return nil, fmt.Errorf("path pattern %q: ** must be a whole segment", s)
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && strings.Count(seg, "{") == 1 && strings.Count(seg, "}") == 1:
			name := seg[1 : len(seg)-1]
			if !isIdent(name) {
				return nil, fmt.Errorf("path pattern %q: parameter name %q must be letters, digits and '_', not starting with a digit", s, name)
			}
			for _, r := range reservedPlaceholders {
				if name == r {
					return nil, fmt.Errorf("path pattern %q: parameter {%s} is reserved (the policy fills it)", s, name)
				}
			}
			for _, q := range p.params {
				if q == name {
					return nil, fmt.Errorf("path pattern %q: parameter {%s} appears twice", s, name)
				}
			}
			if len(p.params) == MaxPathParams {
				return nil, fmt.Errorf("path pattern %q: more than %d parameters", s, MaxPathParams)
			}
			p.segs = append(p.segs, pathSeg{kind: segParam, param: len(p.params)})
			p.params = append(p.params, name)
		case strings.ContainsAny(seg, "{}"):
			return nil, fmt.Errorf("path pattern %q: a {parameter} must be a whole segment, with balanced braces", s)
		case strings.Contains(seg, "*"):
			p.segs = append(p.segs, pathSeg{kind: segGlob, lit: seg, parts: strings.Split(seg, "*")})
		default:
			p.segs = append(p.segs, pathSeg{kind: segLit, lit: seg})
		}
	}
	if !glob {
		p.segs = append(p.segs, pathSeg{kind: segRest})
	}
	return p, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// String returns the pattern as written.
func (p *PathPattern) String() string { return p.raw }

// Params returns the names of the pattern's parameters, in order.
func (p *PathPattern) Params() []string { return append([]string(nil), p.params...) }

// IsPrefix reports whether the pattern is a plain prefix (no wildcards).
func (p *PathPattern) IsPrefix() bool {
	return len(p.segs) > 0 && p.segs[len(p.segs)-1].kind == segRest && !strings.ContainsAny(p.raw, "*{}")
}

// Match reports whether path (a request path starting with '/') matches,
// writing captured parameters into vals in the order of Params.
func (p *PathPattern) Match(path string, vals *[MaxPathParams]string) bool {
	if path == "" {
		path = "/"
	}
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	pos, done := 1, len(path) <= 1
	for i := range p.segs {
		s := &p.segs[i]
		if s.kind == segRest {
			return true
		}
		if done {
			return false
		}
		var seg string
		if j := strings.IndexByte(path[pos:], '/'); j < 0 {
			seg, done = path[pos:], true
		} else {
			seg, pos = path[pos:pos+j], pos+j+1
		}
		switch s.kind {
		case segLit:
			if seg != s.lit {
				return false
			}
		case segParam:
			if seg == "" {
				return false
			}
			vals[s.param] = seg
		case segGlob:
			if !globMatch(s.parts, seg) {
				return false
			}
		}
	}
	return done
}

// globMatch matches seg against parts, the text between '*' wildcards.
func globMatch(parts []string, seg string) bool {
	first, last := parts[0], parts[len(parts)-1]
	if len(seg) < len(first)+len(last) || !strings.HasPrefix(seg, first) || !strings.HasSuffix(seg, last) {
		return false
	}
	mid := seg[len(first) : len(seg)-len(last)]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(mid, part)
		if i < 0 {
			return false
		}
		mid = mid[i+len(part):]
	}
	return true
}

// Covers reports whether every path b matches is also matched by p. It is
// conservative: false means "could not prove it", never a wrong true, so the
// config checker only calls a rule unreachable when it surely is.
func (p *PathPattern) Covers(b *PathPattern) bool {
	for i := range p.segs {
		as := &p.segs[i]
		if as.kind == segRest {
			return true
		}
		if i >= len(b.segs) {
			return false
		}
		bs := &b.segs[i]
		if bs.kind == segRest {
			return false
		}
		switch as.kind {
		case segLit:
			if bs.kind != segLit || bs.lit != as.lit {
				return false
			}
		case segParam:
			// A parameter takes any non-empty segment; a glob of b could
			// match an empty one, so only literals and parameters are sure.
			if bs.kind == segGlob || bs.kind == segLit && bs.lit == "" {
				return false
			}
		case segGlob:
			switch {
			case len(as.parts) == 2 && as.parts[0] == "" && as.parts[1] == "":
				// "*" matches any single segment.
			case bs.kind == segLit && globMatch(as.parts, bs.lit):
			case bs.kind == segGlob && bs.lit == as.lit:
			default:
				return false
			}
		}
	}
	return len(b.segs) == len(p.segs)
}
