package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
)

// maxExpansions bounds the tags one template may produce from array fields.
const maxExpansions = 1000

// Rule adds tags to the events of one type.
type Rule struct {
	// Type is the event type the rule applies to; "*" applies to all.
	Type string `json:"type" yaml:"type"`
	// Tags are templates over {tenant} {type} {entity} {key} {id} and
	// {data.path.to.field}. A field that is an array of scalars expands to
	// one tag per element.
	Tags []string `json:"tags" yaml:"tags"`
	// ReplaceDefault drops the default tags "<entity>:<key>" and "<entity>"
	// (the event's explicit tags are always kept).
	ReplaceDefault bool `json:"replace_default,omitempty" yaml:"replace_default,omitempty"`
}

// Mapper turns events into invalidation requests by the contract's default
// plus compiled rules. It is safe for concurrent use.
type Mapper struct {
	byType map[string][]compiledRule
}

type compiledRule struct {
	replace bool
	tags    []template
}

type template struct {
	src  string
	segs []segment
}

// segment is a literal (field == nil) or a field reference.
type segment struct {
	lit   string
	field []string // "tenant", ..., or "data", "a", "b"
}

// NewMapper compiles rules; a bad template is an error naming it.
func NewMapper(rules []Rule) (*Mapper, error) {
	m := &Mapper{byType: make(map[string][]compiledRule)}
	for i, r := range rules {
		if r.Type == "" {
			return nil, fmt.Errorf("events: rule %d: type is required (\"*\" for all)", i)
		}
		cr := compiledRule{replace: r.ReplaceDefault}
		for _, src := range r.Tags {
			t, err := compileTemplate(src)
			if err != nil {
				return nil, fmt.Errorf("events: rule %d (%s): %w", i, r.Type, err)
			}
			cr.tags = append(cr.tags, t)
		}
		m.byType[r.Type] = append(m.byType[r.Type], cr)
	}
	return m, nil
}

func compileTemplate(src string) (template, error) {
	t := template{src: src}
	if src == "" {
		return t, errors.New("empty tag template")
	}
	rest := src
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return t, fmt.Errorf("template %q: '}' without '{'", src)
		}
		if open < 0 {
			t.segs = append(t.segs, segment{lit: rest})
			break
		}
		if open > 0 {
			t.segs = append(t.segs, segment{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return t, fmt.Errorf("template %q: '{' without '}'", src)
		}
		name := rest[open+1 : open+end]
		field := strings.Split(name, ".")
		switch {
		case len(field) == 1 && (name == "tenant" || name == "type" || name == "entity" || name == "key" || name == "id"):
		case len(field) > 1 && field[0] == "data":
			for _, f := range field[1:] {
				if f == "" {
					return t, fmt.Errorf("template %q: empty path element in {%s}", src, name)
				}
			}
		default:
			return t, fmt.Errorf("template %q: unknown field {%s} (use tenant, type, entity, key, id or data.<path>)", src, name)
		}
		t.segs = append(t.segs, segment{field: field})
		rest = rest[open+end+1:]
	}
	for _, s := range t.segs {
		if s.field == nil {
			if err := checkName(s.lit, invalidation.MaxTagLength); err != nil || strings.ContainsRune(s.lit, ',') {
				return t, fmt.Errorf("template %q: literal %q is not valid in a tag", src, s.lit)
			}
		}
	}
	return t, nil
}

// Map returns the invalidation of e: its explicit tags, the default tags
// (unless a matching rule replaces them) and the tags of every matching
// rule, deduplicated. Its ID is the event id. A template field e lacks is
// an error wrapping ErrInvalidEvent.
func (m *Mapper) Map(e Event) (invalidation.Request, error) {
	req := invalidation.Request{
		ID: e.ID, Tenant: e.Tenant,
		URLs: e.URLs, Prefixes: e.Prefixes, Everything: e.Everything,
	}
	var rules []compiledRule
	if m != nil {
		rules = append(m.byType[e.Type], m.byType["*"]...)
	}
	replace := false
	for _, r := range rules {
		replace = replace || r.replace
	}
	seen := make(map[string]struct{}, len(e.Tags)+2)
	add := func(tag string) {
		if _, ok := seen[tag]; !ok {
			seen[tag] = struct{}{}
			req.Tags = append(req.Tags, tag)
		}
	}
	if !replace && e.Entity != "" {
		if e.Key != "" {
			add(e.Entity + ":" + e.Key)
		}
		add(e.Entity)
	}
	for _, t := range e.Tags {
		add(t)
	}
	var data any
	dataDecoded := false
	for _, r := range rules {
		for _, t := range r.tags {
			if !dataDecoded && t.needsData() {
				var err error
				if data, err = decodeData(e.Data); err != nil {
					return invalidation.Request{}, err
				}
				dataDecoded = true
			}
			tags, err := t.expand(e, data)
			if err != nil {
				return invalidation.Request{}, err
			}
			for _, tag := range tags {
				if err := invalidation.ValidateTag(tag); err != nil {
					return invalidation.Request{}, invalid("", "template %q gave an invalid tag: %s", t.src, reason(err))
				}
				add(tag)
			}
		}
	}
	if len(req.Tags)+len(req.URLs)+len(req.Prefixes) > invalidation.MaxItems {
		return invalidation.Request{}, invalid("", "mapped to more than %d tags", invalidation.MaxItems)
	}
	if err := req.Validate(); err != nil {
		return invalidation.Request{}, invalid("", "%s", reason(err))
	}
	return req, nil
}

func (t template) needsData() bool {
	for _, s := range t.segs {
		if len(s.field) > 1 {
			return true
		}
	}
	return false
}

func decodeData(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, invalid("data", "%v", err)
	}
	return v, nil
}

// expand renders t; array fields multiply the results.
func (t template) expand(e Event, data any) ([]string, error) {
	out := []string{""}
	for _, s := range t.segs {
		var vals []string
		switch {
		case s.field == nil:
			vals = []string{s.lit}
		case len(s.field) == 1:
			v := map[string]string{"tenant": e.Tenant, "type": e.Type, "entity": e.Entity, "key": e.Key, "id": e.ID}[s.field[0]]
			if v == "" {
				return nil, invalid(s.field[0], "template %q needs {%s}, which the event does not have", t.src, s.field[0])
			}
			vals = []string{v}
		default:
			var err error
			if vals, err = lookup(data, s.field, t.src); err != nil {
				return nil, err
			}
		}
		if len(out)*len(vals) > maxExpansions {
			return nil, invalid("", "template %q expands to more than %d tags", t.src, maxExpansions)
		}
		next := make([]string, 0, len(out)*len(vals))
		for _, prefix := range out {
			for _, v := range vals {
				next = append(next, prefix+v)
			}
		}
		out = next
	}
	return out, nil
}

// lookup resolves data.a.b in data; an array of scalars yields each.
func lookup(data any, path []string, src string) ([]string, error) {
	name := strings.Join(path, ".")
	missing := func(why string) error {
		return invalid(name, "template %q: %s", src, why)
	}
	cur := data
	for _, p := range path[1:] {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, missing("field missing")
		}
		if cur, ok = obj[p]; !ok {
			return nil, missing("field missing")
		}
	}
	if arr, ok := cur.([]any); ok {
		if len(arr) == 0 {
			return nil, missing("empty array")
		}
		out := make([]string, 0, len(arr))
		for _, v := range arr {
			s, ok := scalar(v)
			if !ok {
				return nil, missing("array elements must be strings, numbers or booleans")
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalar(cur)
	if !ok {
		return nil, missing("must be a string, number, boolean or array of them")
	}
	return []string{s}, nil
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}
