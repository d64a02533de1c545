package events_test

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/policy"
)

func TestMapper(t *testing.T) {
	m, err := events.NewMapper([]events.Rule{
		{Type: "company.updated", Tags: []string{"category:{data.category_id}", "{tenant}-{entity}-{key}"}},
		{Type: "product.moved", Tags: []string{"shelf:{data.shelves}"}, ReplaceDefault: true},
		{Type: "nested", Tags: []string{"x:{data.a.b.c}", "flag:{data.f}"}},
		{Type: "*", Tags: []string{"type:{type}"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ev      events.Event
		want    []string
		wantErr string
	}{
		{"default only", events.Event{ID: "1", Tenant: "acme", Type: "other", Entity: "company", Key: "acme", Tags: []string{"gallery:acme"}},
			[]string{"company:acme", "company", "gallery:acme", "type:other"}, ""},
		{"template over data", events.Event{ID: "1", Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme", Data: []byte(`{"category_id":42}`)},
			[]string{"company:acme", "company", "category:42", "acme-company-acme", "type:company.updated"}, ""},
		{"array expands, default replaced", events.Event{Tenant: "acme", Type: "product.moved", Entity: "product", Key: "p1", Tags: []string{"keep"}, Data: []byte(`{"shelves":["a","b"]}`)},
			[]string{"keep", "shelf:a", "shelf:b", "type:product.moved"}, ""},
		{"nested and bool", events.Event{Tenant: "acme", Type: "nested", Tags: []string{"t"}, Data: []byte(`{"a":{"b":{"c":"deep"}},"f":true}`)},
			[]string{"t", "x:deep", "flag:true", "type:nested"}, ""},
		{"duplicates removed", events.Event{Tenant: "acme", Type: "z", Entity: "company", Key: "acme", Tags: []string{"company", "company:acme"}},
			[]string{"company:acme", "company", "type:z"}, ""},
		{"missing data field", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme", Data: []byte(`{"other":1}`)},
			nil, `data.category_id: template "category:{data.category_id}": field missing`},
		{"no data at all", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme"},
			nil, "field missing"},
		{"object where scalar needed", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme", Data: []byte(`{"category_id":{"x":1}}`)},
			nil, "must be a string, number, boolean"},
		{"value escaped as in a response tag", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "a b", Data: []byte(`{"category_id":"x%y"}`)},
			[]string{"company:a%20b", "company", "category:x%25y", "acme-company-a%20b", "type:company.updated"}, ""},
		{"value makes a tag too long", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme", Data: []byte(`{"category_id":"` + strings.Repeat("x", 1100) + `"}`)},
			nil, "gave an invalid tag"},
		{"missing event field", events.Event{Tenant: "acme", Type: "company.updated", Tags: []string{"t"}, Data: []byte(`{"category_id":1}`)},
			nil, "needs {entity}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := m.Map(tt.ev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, events.ErrInvalidEvent) {
					t.Fatalf("Map error = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.Tags, tt.want) {
				t.Errorf("tags = %q, want %q", req.Tags, tt.want)
			}
			if req.ID != tt.ev.ID || req.Tenant != tt.ev.Tenant {
				t.Errorf("id/tenant = %q/%q", req.ID, req.Tenant)
			}
		})
	}
}

func TestNilMapperIsDefault(t *testing.T) {
	var m *events.Mapper
	req, err := m.Map(events.Event{ID: "e", Tenant: "acme", Entity: "company", Key: "acme", URLs: []string{"/x"}, Everything: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req.Tags, []string{"company:acme", "company"}) || req.URLs[0] != "/x" || !req.Everything {
		t.Fatalf("req = %+v", req)
	}
}

func TestNewMapperErrors(t *testing.T) {
	tests := []struct {
		rule events.Rule
		want string
	}{
		{events.Rule{Tags: []string{"x"}}, "type is required"},
		{events.Rule{Type: "t", Tags: []string{"{nope}"}}, "unknown placeholder {nope}"},
		{events.Rule{Type: "t", Tags: []string{"a{data}"}}, "unknown placeholder {data}"},
		{events.Rule{Type: "t", Tags: []string{"a{key"}}, "'{' without '}'"},
		{events.Rule{Type: "t", Tags: []string{"a}b"}}, "'}' without '{'"},
		{events.Rule{Type: "t", Tags: []string{"{data..x}"}}, "unknown placeholder {data..x}"},
		{events.Rule{Type: "t", Tags: []string{"a b:{key}"}}, "a tag may not contain ' '"},
		{events.Rule{Type: "t", Tags: []string{""}}, "empty tag template"},
	}
	for _, tt := range tests {
		if _, err := events.NewMapper([]events.Rule{tt.rule}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewMapper(%+v) = %v, want %q", tt.rule, err, tt.want)
		}
	}
}

// A path parameter and an event key with the same value name the same tag,
// whatever characters the value holds: the policy's response tag and the
// event's tag come from one expander.
func TestMapperTagsMatchPolicyTags(t *testing.T) {
	pol, err := policy.Compile(policy.Config{
		Tenants: policy.TenantConfig{By: policy.TenantBySubdomain, Domains: []string{"localhost"}},
		Rules: []policy.RuleConfig{
			{Name: "product", Match: policy.MatchConfig{Path: "/products/{id}"}, Tags: []string{"product:{id}", "shelf:{id}"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := events.NewMapper([]events.Rule{{Type: "product.moved", Tags: []string{"shelf:{data.id}"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, rawPath string }{
		{"a%b", "/products/a%25b"},
		{"caf\u00e9", "/products/caf%C3%A9"},
		{"a b", "/products/a%20b"},
		{"a,b", "/products/a,b"},
		{"plain-1", "/products/plain-1"},
	} {
		d := pol.Decide(httptest.NewRequest("GET", "http://acme.localhost"+c.rawPath, nil))
		if len(d.Tags) != 2 {
			t.Fatalf("%s: policy tags %q", c.rawPath, d.Tags)
		}
		data, _ := json.Marshal(map[string]string{"id": c.key})
		req, err := m.Map(events.Event{Tenant: "acme", Type: "product.moved", Entity: "product", Key: c.key, Data: data})
		if err != nil {
			t.Fatalf("%q: %v", c.key, err)
		}
		for _, want := range d.Tags {
			if !slices.Contains(req.Tags, want) {
				t.Errorf("key %q: the response is tagged %q, the event purges %q", c.key, want, req.Tags)
			}
		}
	}
}

// Admin purges name their tags: no rule maps them, so a valid rule for
// every type that needs {entity} does not reject them, and no default tag
// is added.
func TestPurgesBypassTheMapper(t *testing.T) {
	m, err := events.NewMapper([]events.Rule{{Type: "*", Tags: []string{"{entity}:{key}:all"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []events.Event{
		{ID: "p1", Tenant: "acme", Type: events.TypePurge, Tags: []string{"product:1", "a%b"}},
		{ID: "p2", Tenant: "acme", Type: events.TypePurge, URLs: []string{"/x"}},
		{ID: "p3", Tenant: "acme", Type: events.TypePurge, Everything: true},
	} {
		req, err := m.Map(ev)
		if err != nil {
			t.Fatalf("purge %s: %v", ev.ID, err)
		}
		if !slices.Equal(req.Tags, ev.Tags) || !slices.Equal(req.URLs, ev.URLs) || req.Everything != ev.Everything || req.ID != ev.ID {
			t.Fatalf("purge %s mapped to %+v", ev.ID, req)
		}
	}
	// Other events still go through the rule.
	if _, err := m.Map(events.Event{Tenant: "acme", Type: "x", Tags: []string{"t"}}); err == nil {
		t.Fatal("an event without {entity} passed a rule that needs it")
	}
}

// An event a rule cannot fully map (a data field it lacks) keeps what does
// map: the default and explicit tags are returned with a
// PartialMappingError naming the field.
func TestMapPartial(t *testing.T) {
	m, err := events.NewMapper([]events.Rule{{Type: "product.updated", Tags: []string{"category:{data.category_id}", "product-page:{key}"}}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := m.Map(events.Event{Tenant: "acme", Type: "product.updated", Entity: "product", Key: "p1", Tags: []string{"x"}})
	var partial *events.PartialMappingError
	if !errors.As(err, &partial) || !strings.Contains(err.Error(), "data.category_id") {
		t.Fatalf("Map = %v, want a PartialMappingError naming data.category_id", err)
	}
	want := []string{"product:p1", "product", "x", "product-page:p1"}
	if !slices.Equal(req.Tags, want) {
		t.Fatalf("tags %v, want %v", req.Tags, want)
	}
	// With nothing that maps, the whole event is refused.
	m2, _ := events.NewMapper([]events.Rule{{Type: "t", Tags: []string{"c:{data.c}"}, ReplaceDefault: true}})
	if _, err := m2.Map(events.Event{Tenant: "acme", Type: "t", Entity: "e", Key: "k"}); err == nil || errors.As(err, &partial) {
		t.Fatalf("nothing maps: %v, want a plain error", err)
	}
}
