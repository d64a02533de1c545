package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openAPIPaths is the document's operations as ServeMux patterns
// ("GET /api/v1/purges/{id}"): its path templates are the mux's syntax.
func openAPIPaths(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDescribesEveryRoute: every API route the server registers is
// in the document, every operation of the document is a registered route,
// and the server serves the document.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t, nil)
	routes := e.srv.Routes()
	sort.Strings(routes)
	documented := openAPIPaths(t)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json describes %q, which the server does not register", d)
		}
	}
	if len(routes) < 15 {
		t.Errorf("only %d routes registered: %v", len(routes), routes)
	}
	code, h, body := e.do(t, http.MethodGet, "/api/v1/openapi.json", "", bearer(testToken))
	var served, want any
	if err := json.Unmarshal(body, &served); err != nil || code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s %v", code, h.Get("Content-Type"), err)
	}
	_ = json.Unmarshal(openAPIDocument, &want)
	if !jsonEqual(served, want) {
		t.Error("the served document is not openapi.json")
	}
	if code, _, _ := e.do(t, http.MethodGet, "/api/v1/openapi.json", ""); code != http.StatusUnauthorized {
		t.Errorf("the document without a token: %d, want 401 (the contract: everything but /healthz and /readyz)", code)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// OpenAPIDocument is openapi.json, for the tests against a real node
// (package web_test).
var OpenAPIDocument = openAPIDocument

// OpenAPISchemas compiles the schemas of openapi.json (OpenAPI 3.1 schemas
// are JSON Schema 2020-12) so that a value can be checked against the
// schema at a JSON pointer into the document.
type OpenAPISchemas struct {
	c   *jsonschema.Compiler
	doc any
}

func NewOpenAPISchemas(t testing.TB, document []byte) *OpenAPISchemas {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(document))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return &OpenAPISchemas{c: c, doc: doc}
}

// At compiles the schema at pointer (e.g. "/paths/~1api~1v1~1stats/get/...").
func (s *OpenAPISchemas) At(t testing.TB, pointer string) *jsonschema.Schema {
	t.Helper()
	sch, err := s.c.Compile("openapi.json#" + pointer)
	if err != nil {
		t.Fatalf("schema at %s: %v", pointer, err)
	}
	return sch
}

// Response compiles the JSON schema of the answer with status to method
// on the path template, following a $ref to a shared response; it fails
// the test for a status the document does not list.
func (s *OpenAPISchemas) Response(t testing.TB, method, template string, status int) *jsonschema.Schema {
	t.Helper()
	pointer := "/paths/" + pointerEscape(template) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	r, ok := lookup(s.doc, pointer)
	if !ok {
		t.Fatalf("openapi.json does not list the answer %d to %s %s", status, method, template)
	}
	if ref, ok := r.(map[string]any)["$ref"].(string); ok {
		pointer = strings.TrimPrefix(ref, "#")
	}
	return s.At(t, pointer+"/content/application~1json/schema")
}

// pointerEscape escapes a key for a JSON pointer (RFC 6901).
func pointerEscape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// lookup follows pointer's unescaped segments through maps.
func lookup(v any, pointer string) (any, bool) {
	for _, seg := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[strings.ReplaceAll(strings.ReplaceAll(seg, "~1", "/"), "~0", "~")]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestOpenAPIExamplesMatchSchemas: every example in the document (request
// bodies and responses) is valid against its own schema, and the schemas
// refuse a wrong value.
func TestOpenAPIExamplesMatchSchemas(t *testing.T) {
	s := NewOpenAPISchemas(t, openAPIDocument)
	checked := 0
	var walk func(pointer string, v any)
	walk = func(pointer string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if ex, ok := m["example"]; ok {
			if _, ok := m["schema"]; ok {
				if err := s.At(t, pointer+"/schema").Validate(ex); err != nil {
					t.Errorf("the example at %s does not match its schema: %v", pointer, err)
				}
				checked++
			}
		}
		for k, child := range m {
			walk(pointer+"/"+pointerEscape(k), child)
		}
	}
	walk("", s.doc)
	if checked < 20 {
		t.Errorf("only %d examples checked", checked)
	}
	for _, bad := range []struct {
		schema string
		value  string
	}{
		{"/components/schemas/Stats", `{"time":"2026-01-01T00:00:00Z","uptime_seconds":1,"requests":1,"hit_ratio":2,"layers":{},"tenants":{},"routes":{}}`},
		{"/components/schemas/PurgeState", `{"id":"p","targets":{"l1":{"status":"lost","updated":"2026-01-01T00:00:00Z"}},"done":true,"failed":false}`},
		{"/components/schemas/Accepted", `{"applied":true}`},
		{"/components/schemas/Audit", `{"entries":[{"time":"yesterday","actor":"a","action":"purge"}]}`},
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad.value))
		if err := s.At(t, bad.schema).Validate(v); err == nil {
			t.Errorf("%s accepts %s", bad.schema, bad.value)
		}
	}
}
