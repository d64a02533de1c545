package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
)

func TestParseEvent(t *testing.T) {
	big := `{"tenant":"acme","tags":["x"],"data":{"pad":"` + strings.Repeat("a", events.MaxEventSize) + `"}}`
	tests := []struct {
		name    string
		body    string
		wantErr string // substring; "" = valid
	}{
		{"contract example", `{"id":"e1","tenant":"acme","type":"company.updated","entity":"company","key":"acme","tags":["gallery:acme"],"data":{"a":1},"occurred_at":"2026-01-02T03:04:05Z"}`, ""},
		{"tags only", `{"tenant":"acme","tags":["t1"]}`, ""},
		{"unknown fields ignored", `{"tenant":"acme","tags":["t1"],"extra":{"x":[1,2]}}`, ""},
		{"version 1", `{"version":1,"tenant":"acme","entity":"company","key":"k"}`, ""},
		{"purge urls", `{"tenant":"acme","type":"purge","urls":["/a?b=1"],"prefixes":["/c"]}`, ""},
		{"purge everything", `{"tenant":"acme","everything":true}`, ""},
		{"null data", `{"tenant":"acme","tags":["t"],"data":null}`, ""},
		{"empty", ``, "empty body"},
		{"not json", `{"tenant":`, "not valid JSON"},
		{"array", `[1]`, "must be a JSON object"},
		{"string", `"x"`, "must be a JSON object"},
		{"no tenant", `{"tags":["t"]}`, "tenant: tenant is required"},
		{"bad tenant", `{"tenant":"Acme","tags":["t"]}`, "tenant: tenant \"Acme\""},
		{"nothing to invalidate", `{"tenant":"acme"}`, "name entity and key, or non-empty tags"},
		{"empty tags", `{"tenant":"acme","tags":[]}`, "name entity and key"},
		{"entity without key", `{"tenant":"acme","entity":"company"}`, "needs a key"},
		{"key without entity", `{"tenant":"acme","key":"k","tags":["t"]}`, "key: a key needs an entity"},
		{"tag with space", `{"tenant":"acme","tags":["a b"]}`, "tags[0]"},
		{"tag with comma", `{"tenant":"acme","tags":["ok","a,b"]}`, "tags[1]"},
		{"tags not strings", `{"tenant":"acme","tags":[1]}`, "tags: got a JSON number"},
		{"tenant not string", `{"tenant":5,"tags":["t"]}`, "tenant: got a JSON number, want a string"},
		{"unknown version", `{"version":2,"tenant":"acme","tags":["t"]}`, "unsupported major version 2"},
		{"bad time", `{"tenant":"acme","tags":["t"],"occurred_at":"yesterday"}`, "invalid event"},
		{"data array", `{"tenant":"acme","tags":["t"],"data":[1]}`, "data: must be a JSON object"},
		{"relative url", `{"tenant":"acme","urls":["a"]}`, "urls[0]"},
		{"url with space", `{"tenant":"acme","urls":["/a b"]}`, "percent-encode"},
		{"id with space", `{"id":"a b","tenant":"acme","tags":["t"]}`, "id:"},
		{"key with space", `{"tenant":"acme","entity":"company","key":"a b"}`, "key:"},
		{"invalid utf-8", "{\"tenant\":\"acme\",\"tags\":[\"t\"],\"data\":{\"x\":\"\xff\"}}", "not valid UTF-8"},
		{"oversize", big, "exceeds 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := events.ParseEvent([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseEvent: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseEvent accepted %q", tt.body)
			}
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseEventFields(t *testing.T) {
	e, err := events.ParseEvent([]byte(`{"id":"e1","tenant":"acme","type":"company.updated","entity":"company","key":"acme","tags":["gallery:acme"],"data":{"a":1},"occurred_at":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "e1" || e.Tenant != "acme" || e.Type != "company.updated" || e.Entity != "company" || e.Key != "acme" ||
		len(e.Tags) != 1 || string(e.Data) != `{"a":1}` || !e.OccurredAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("parsed %+v", e)
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		e    events.Event
		want string
	}{
		{events.Event{Tenant: "acme", Entity: "company"}, "cachegate.events.acme.company"},
		{events.Event{Tenant: "acme.com", Entity: "a.b*>c d"}, "cachegate.events.acme_com.a_b__c_d"},
		{events.Event{Tenant: "acme", Tags: []string{"x"}}, "cachegate.events.acme._"},
		{events.Event{Tenant: "acme", Type: events.TypePurge, Tags: []string{"x"}}, "cachegate.events.acme.purge"},
		{events.Event{Tenant: "acme", URLs: []string{"/x"}}, "cachegate.events.acme.purge"},
	}
	for _, tt := range tests {
		if got := tt.e.Subject(); got != tt.want {
			t.Errorf("Subject(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := events.NewID()
		if seen[id] || id == "" {
			t.Fatalf("duplicate or empty id %q", id)
		}
		seen[id] = true
	}
}

// FuzzParseEvent: no input panics; every accepted event encodes to a body
// that parses back to the same event.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"e1","tenant":"acme","type":"company.updated","entity":"company","key":"acme","tags":["gallery:acme"],"data":{"a":1},"occurred_at":"2026-01-02T03:04:05Z"}`,
		`{"tenant":"acme","tags":["t"]}`,
		`{"version":1,"tenant":"a.b","urls":["/x?y=1"],"prefixes":["/p"],"everything":true}`,
		`{"tenant":"acme","tags":["\u00e9"]}`,
		`{"tenant":"acme","entity":"e","key":"k","data":{"s":"<&>\u2028"}}`,
		`[]`, `null`, `{"tenant":"acme","tags":[1]}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := events.ParseEvent(b)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed event: %v", err)
		}
		if len(out) > events.MaxEventSize {
			return
		}
		e2, err := events.ParseEvent(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !sameEvent(e, e2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, e2)
		}
		if s := e.Subject(); strings.Count(s, ".") != 3 || strings.ContainsAny(s, " *>") {
			t.Fatalf("bad subject %q", s)
		}
	})
}

func sameEvent(a, b events.Event) bool {
	var ca, cb bytes.Buffer
	_ = json.Compact(&ca, a.Data)
	_ = json.Compact(&cb, b.Data)
	a.Data, b.Data = nil, nil
	if !a.OccurredAt.Equal(b.OccurredAt) {
		return false
	}
	a.OccurredAt, b.OccurredAt = time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb) && bytes.Equal(ca.Bytes(), cb.Bytes())
}
