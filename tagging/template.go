package tagging

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
)

// Template is a tag template: literal tag text with {name} placeholders,
// such as "product:{id}" or "category:{data.category_id}". The policy fills
// path parameters, {tenant}, {host} and {path}; the event coordinator fills
// {tenant}, {type}, {entity}, {key} and {data.x}. Both expand through here,
// so an event's tag and a response's tag for the same value are spelled the
// same way (see EscapeTagValue).
type Template struct {
	raw   string
	parts []tplPart
}

type tplPart struct {
	lit  string // literal text, when name is ""
	name string // placeholder name
	ref  int    // the value's position, in a Bound
}

// ParseTemplate parses s. known, when not nil, says which placeholder names
// exist; an unknown one is an error. Literal text must consist of characters
// a tag may hold (printable ASCII without space or comma), and '{' and '}'
// only delimit placeholders.
func ParseTemplate(s string, known func(name string) bool) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("empty tag template")
	}
	t := &Template{raw: s}
	for rest := s; rest != ""; {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if strings.IndexByte(lit, '}') >= 0 {
			return nil, fmt.Errorf("tag template %q: '}' without '{'", s)
		}
		for i := 0; i < len(lit); i++ {
			if c := lit[i]; c <= ' ' || c >= 0x7f || c == ',' {
				return nil, fmt.Errorf("tag template %q: a tag may not contain %q (only printable ASCII without space or comma)", s, c)
			}
		}
		if lit != "" {
			t.parts = append(t.parts, tplPart{lit: lit})
		}
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("tag template %q: '{' without '}'", s)
		}
		name := rest[open+1 : open+end]
		if !isPlaceholderName(name) {
			return nil, fmt.Errorf("tag template %q: placeholder {%s} must be letters, digits, '_', '-' and '.'", s, name)
		}
		if known != nil && !known(name) {
			return nil, fmt.Errorf("tag template %q: unknown placeholder {%s}", s, name)
		}
		t.parts = append(t.parts, tplPart{name: name})
		rest = rest[open+end+1:]
	}
	if len(t.raw) > invalidation.MaxTagLength {
		return nil, fmt.Errorf("tag template %q is longer than %d characters", s, invalidation.MaxTagLength)
	}
	return t, nil
}

func isPlaceholderName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// LiteralPrefix returns the literal text before the template's first
// placeholder (all of it when there is none), so a caller can tell whether
// every expansion starts in a reserved namespace.
func (t *Template) LiteralPrefix() string {
	if len(t.parts) > 0 && t.parts[0].name == "" {
		return t.parts[0].lit
	}
	return ""
}

// Placeholders returns the placeholder names in order of appearance.
func (t *Template) Placeholders() []string {
	var out []string
	for _, p := range t.parts {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}

// Expand fills the placeholders from lookup through ExpandEach, one value
// each. It reports false when a placeholder has no value or the result is
// not a valid tag (too long); callers skip such a tag. (The policy's
// compiled rules expand the same way without a lookup closure:
// expandRuleTag.)
func (t *Template) Expand(lookup func(name string) (string, bool)) (string, bool) {
	tags, err := t.ExpandEach(func(name string) ([]string, error) {
		v, ok := lookup(name)
		if !ok || v == "" {
			return nil, errNoValue
		}
		return []string{v}, nil
	}, 1)
	if err != nil || len(tags) != 1 || len(tags[0]) > invalidation.MaxTagLength {
		return "", false
	}
	return tags[0], true
}

var errNoValue = errors.New("placeholder without a value")

// ErrTooManyTags is returned by ExpandEach when the values multiply past its
// limit.
var ErrTooManyTags = errors.New("tag template expands to too many tags")

// ExpandEach fills the placeholders from lookup, which may give several
// values for one placeholder (an event's array field): the result is one
// tag per combination, at most limit of them, each value escaped with
// EscapeTagValue as Expand does, so an event's tag for a value is spelled
// as the policy's response tag for it. A lookup error is returned as is; a
// placeholder with no value is the caller's error to report, from lookup.
// The tags are not validated: a tag longer than a tag may be is returned,
// for the caller to reject with its reason.
func (t *Template) ExpandEach(lookup func(name string) ([]string, error), limit int) ([]string, error) {
	out := []string{""}
	for _, p := range t.parts {
		if p.name == "" {
			for i := range out {
				out[i] += p.lit
			}
			continue
		}
		vals, err := lookup(p.name)
		if err != nil {
			return nil, err
		}
		if len(out)*len(vals) > limit {
			return nil, fmt.Errorf("%w: %q gives more than %d", ErrTooManyTags, t.raw, limit)
		}
		next := make([]string, 0, len(out)*len(vals))
		for _, prefix := range out {
			for _, v := range vals {
				next = append(next, prefix+EscapeTagValue(v))
			}
		}
		out = next
	}
	return out, nil
}

// EscapeTagValue makes a placeholder value safe inside a tag: bytes a tag
// may not hold (controls, space, ',', non-ASCII) and '%' itself are
// percent-encoded, so that "a b" becomes "a%20b" both in the tag a response
// carries and in the tag an event for key "a b" invalidates.
func EscapeTagValue(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	writeEscaped(&b, s)
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ',' || c == '%' {
			return true
		}
	}
	return false
}

func writeEscaped(b *strings.Builder, s string) {
	if !needsEscape(s) {
		b.WriteString(s)
		return
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ',' || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

// Bound is a template whose placeholders are resolved to positions in a
// slice of values, for a caller that expands it on every request (the
// policy's response tags) without a lookup closure or an allocation.
type Bound struct {
	raw     string
	parts   []tplPart
	dynamic bool
}

// Bind resolves t's placeholders: index gives the position of a
// placeholder's value in the slice later passed to Bound.Write; a name it
// gives a negative position for always expands to no value.
func (t *Template) Bind(index func(name string) int) *Bound {
	b := &Bound{raw: t.raw, parts: append([]tplPart(nil), t.parts...)}
	for i := range b.parts {
		if pt := &b.parts[i]; pt.name != "" {
			b.dynamic = true
			pt.ref = index(pt.name)
		}
	}
	return b
}

// String returns the template as written.
func (b *Bound) String() string { return b.raw }

// Dynamic reports whether the template has a placeholder (else it always
// expands to String()).
func (b *Bound) Dynamic() bool { return b.dynamic }

// Write appends the expansion to w, each value escaped as Expand does. It
// reports false when a placeholder has no (or an empty) value or the tag is
// longer than a tag may be; w then holds a partial tag the caller drops.
func (b *Bound) Write(w *strings.Builder, vals []string) bool {
	start := w.Len()
	for _, pt := range b.parts {
		if pt.name == "" {
			w.WriteString(pt.lit)
			continue
		}
		if pt.ref < 0 || pt.ref >= len(vals) || vals[pt.ref] == "" {
			return false
		}
		writeEscaped(w, vals[pt.ref])
	}
	return w.Len()-start <= invalidation.MaxTagLength
}
