package events_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/events"
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
		{"value makes a bad tag", events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme", Data: []byte(`{"category_id":"a b"}`)},
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
		{events.Rule{Type: "t", Tags: []string{"{nope}"}}, "unknown field {nope}"},
		{events.Rule{Type: "t", Tags: []string{"a{data}"}}, "unknown field {data}"},
		{events.Rule{Type: "t", Tags: []string{"a{key"}}, "'{' without '}'"},
		{events.Rule{Type: "t", Tags: []string{"a}b"}}, "'}' without '{'"},
		{events.Rule{Type: "t", Tags: []string{"{data..x}"}}, "empty path element"},
		{events.Rule{Type: "t", Tags: []string{"a b:{key}"}}, "not valid in a tag"},
		{events.Rule{Type: "t", Tags: []string{""}}, "empty tag template"},
	}
	for _, tt := range tests {
		if _, err := events.NewMapper([]events.Rule{tt.rule}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewMapper(%+v) = %v, want %q", tt.rule, err, tt.want)
		}
	}
}
