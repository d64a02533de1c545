package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
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
	tags    []*tagging.Template
}

// defaultTags are the contract's default tags of an event, "<entity>:<key>"
// and "<entity>", expanded like any rule's templates: a key is escaped as
// the policy escapes the same value in a response's tag.
var defaultTags = [2]*tagging.Template{mustTemplate("{entity}:{key}"), mustTemplate("{entity}")}

func mustTemplate(s string) *tagging.Template {
	t, err := tagging.ParseTemplate(s, Placeholder)
	if err != nil {
		panic(err)
	}
	return t
}

// Placeholder reports whether name may appear in an event tag template:
// {tenant} {type} {entity} {key} {id} or {data.path.to.field}.
func Placeholder(name string) bool {
	switch name {
	case "tenant", "type", "entity", "key", "id":
		return true
	}
	rest, ok := strings.CutPrefix(name, "data.")
	return ok && !slices.Contains(strings.Split(rest, "."), "")
}

// ValidateRules reports every problem of rules, each a *setting.Error
// named as the config file's events section spells it ("rules[1].type").
func ValidateRules(rules []Rule) error {
	var errs []error
	types := map[string]bool{}
	for i, r := range rules {
		at := setting.Index("rules", i)
		switch {
		case r.Type == "":
			errs = append(errs, setting.Errorf(at, "type is required (an event type such as company.updated, or \"*\")"))
		case types[r.Type]:
			errs = append(errs, setting.Errorf(at+".type", "type %q already has a rule", r.Type))
		}
		types[r.Type] = true
		for j, src := range r.Tags {
			if _, err := tagging.ParseTemplate(src, Placeholder); err != nil {
				errs = append(errs, setting.Errorf(setting.Index(at+".tags", j), "%v (known: {tenant}, {type}, {entity}, {key}, {id}, {data.field})", err))
			}
		}
		if r.ReplaceDefault && len(r.Tags) == 0 {
			errs = append(errs, setting.Errorf(at+".replace_default", "replace_default with no tags would make these events invalidate nothing"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// PartialMappingError is Map's error for an event of which only part
// maps: the request it returns with it holds that part.
type PartialMappingError struct{ Err error }

func (e *PartialMappingError) Error() string {
	return "partially mapped: " + oneLine(e.Err.Error())
}

func (e *PartialMappingError) Unwrap() error { return e.Err }

// NewMapper compiles rules, which must pass ValidateRules.
func NewMapper(rules []Rule) (*Mapper, error) {
	if err := ValidateRules(rules); err != nil {
		return nil, err
	}
	m := &Mapper{byType: make(map[string][]compiledRule)}
	for _, r := range rules {
		cr := compiledRule{replace: r.ReplaceDefault}
		for _, src := range r.Tags {
			t, _ := tagging.ParseTemplate(src, Placeholder) // checked above
			cr.tags = append(cr.tags, t)
		}
		m.byType[r.Type] = append(m.byType[r.Type], cr)
	}
	return m, nil
}

// Map returns the invalidation of e: the default tags (unless a matching
// rule replaces them), its explicit tags and the tags of every matching
// rule, deduplicated. Its ID is the event id. A template field e lacks is
// an error wrapping ErrInvalidEvent. Templates expand through
// tagging.Template, the policy's expander, so a value is escaped the same
// way in the response's tag and in the event's.
//
// An admin purge (TypePurge) names exactly what it purges: it is not
// mapped, and no rule applies to it (a rule for "*" needing {entity}
// would otherwise reject every purge).
func (m *Mapper) Map(e Event) (invalidation.Request, error) {
	req := invalidation.Request{
		ID: e.ID, Tenant: e.Tenant,
		URLs: e.URLs, Prefixes: e.Prefixes, Everything: e.Everything, Soft: e.Soft,
	}
	purge := e.Type == TypePurge
	var rules []compiledRule
	if m != nil && !purge {
		rules = append(m.byType[e.Type], m.byType["*"]...)
	}
	replace := purge
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
	x := expansion{e: e, add: add}
	if !replace && e.Entity != "" {
		defaults := defaultTags[1:]
		if e.Key != "" {
			defaults = defaultTags[:]
		}
		for _, t := range defaults {
			if err := x.expand(t); err != nil {
				return invalidation.Request{}, err
			}
		}
	}
	for _, t := range e.Tags {
		add(t)
	}
	// A rule template the event cannot fill (a data field it lacks) does
	// not cost the rest of the invalidation: what maps is applied, and the
	// event is reported partial.
	var unmapped []error
	for _, r := range rules {
		for _, t := range r.tags {
			if err := x.expand(t); err != nil {
				unmapped = append(unmapped, err)
			}
		}
	}
	if len(unmapped) > 0 {
		err := errors.Join(unmapped...)
		if len(req.Tags)+len(req.URLs)+len(req.Prefixes) == 0 && !req.Everything {
			return invalidation.Request{}, err
		}
		if verr := req.Validate(); verr != nil || len(req.Tags)+len(req.URLs)+len(req.Prefixes) > invalidation.MaxItems {
			return invalidation.Request{}, err
		}
		return req, &PartialMappingError{Err: err}
	}
	if len(req.Tags)+len(req.URLs)+len(req.Prefixes) > invalidation.MaxItems {
		return invalidation.Request{}, invalid("", "mapped to more than %d tags", invalidation.MaxItems)
	}
	if err := req.Validate(); err != nil {
		return invalidation.Request{}, invalid("", "%s", reason(err))
	}
	return req, nil
}

// expansion expands templates over one event, decoding its data once, on
// the first template that needs it.
type expansion struct {
	e       Event
	add     func(tag string)
	data    any
	decoded bool
}

func (x *expansion) expand(t *tagging.Template) error {
	tags, err := t.ExpandEach(func(name string) ([]string, error) { return x.field(name, t.String()) }, maxExpansions)
	if errors.Is(err, tagging.ErrTooManyTags) {
		return invalid("", "template %q expands to more than %d tags", t.String(), maxExpansions)
	}
	if err != nil {
		return err
	}
	for _, tag := range tags {
		if err := invalidation.ValidateTag(tag); err != nil {
			return invalid("", "template %q gave an invalid tag: %s", t.String(), reason(err))
		}
		x.add(tag)
	}
	return nil
}

// field returns the values of placeholder name for template src.
func (x *expansion) field(name, src string) ([]string, error) {
	path, isData := strings.CutPrefix(name, "data.")
	if !isData {
		e := &x.e
		v := map[string]string{"tenant": e.Tenant, "type": e.Type, "entity": e.Entity, "key": e.Key, "id": e.ID}[name]
		if v == "" {
			return nil, invalid(name, "template %q needs {%s}, which the event does not have", src, name)
		}
		return []string{v}, nil
	}
	if !x.decoded {
		var err error
		if x.data, err = decodeData(x.e.Data); err != nil {
			return nil, err
		}
		x.decoded = true
	}
	return lookup(x.data, name, strings.Split(path, "."), src)
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

// lookup resolves data.a.b in data; an array of scalars yields each.
func lookup(data any, name string, path []string, src string) ([]string, error) {
	missing := func(why string) error {
		return invalid(name, "template %q: %s", src, why)
	}
	cur := data
	for _, p := range path {
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
