package policy

import (
	"strings"
	"testing"

	"github.com/cachegate/cachegate/tagging"
)

func TestPathPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    bool
		params  map[string]string
	}{
		{"/", "/", true, nil},
		{"/", "/anything/at/all", true, nil},
		{"/account", "/account", true, nil},
		{"/account", "/account/", true, nil},
		{"/account", "/account/settings", true, nil},
		{"/account", "/accounts", false, nil},
		{"/account/", "/account/x", true, nil},
		{"/account", "/", false, nil},
		{"/products/{id}", "/products/42", true, map[string]string{"id": "42"}},
		{"/products/{id}", "/products/42/", true, map[string]string{"id": "42"}},
		{"/products/{id}", "/products/42/reviews", false, nil},
		{"/products/{id}", "/products", false, nil},
		{"/products/{id}", "/products/", false, nil},
		{"/products/{id}/**", "/products/42/reviews/7", true, map[string]string{"id": "42"}},
		{"/products/{id}/**", "/products/42", true, map[string]string{"id": "42"}},
		{"/{shop}/items/{sku}", "/acme/items/a-1", true, map[string]string{"shop": "acme", "sku": "a-1"}},
		{"/static/*.css", "/static/site.css", true, nil},
		{"/static/*.css", "/static/site.js", false, nil},
		{"/static/*.css", "/static/a/site.css", false, nil},
		{"/static/*", "/static/x", true, nil},
		{"/static/*", "/static/x/y", false, nil},
		{"/a*b*c", "/abc", true, nil},
		{"/a*b*c", "/aXbYc", true, nil},
		{"/a*b*c", "/ac", false, nil},
		{"/**", "/", true, nil},
		{"/companies", "/companies?x", false, nil},
		{"/{$}", "/", true, nil},
		{"/{$}", "/x", false, nil},
		{"/companies/{$}", "/companies", true, nil},
		{"/companies/{$}", "/companies/", true, nil},
		{"/companies/{$}", "/companies/x", false, nil},
	}
	for _, tt := range tests {
		p, err := CompilePath(tt.pattern)
		if err != nil {
			t.Fatalf("CompilePath(%q): %v", tt.pattern, err)
		}
		var vals [MaxPathParams]string
		if got := p.Match(tt.path, &vals); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
			continue
		}
		for i, name := range p.Params() {
			if want, ok := tt.params[name]; ok && vals[i] != want {
				t.Errorf("%q.Match(%q): {%s} = %q, want %q", tt.pattern, tt.path, name, vals[i], want)
			}
		}
	}
}

func TestCompilePathErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"products", "must start with /"},
		{"/a//b", "empty segment"},
		{"/a/**/b", "only allowed as the last segment"},
		{"/a/x**", "must be a whole segment"},
		{"/a/{id", "whole segment"},
		{"/a/{id}x", "whole segment"},
		{"/a/{}", "parameter name"},
		{"/a/{1x}", "parameter name"},
		{"/a/{id}/{id}", "appears twice"},
		{"/a/{tenant}", "reserved"},
		{"/a/{$}/b", "only allowed at the end"},
		{"/a/{id}/{$}", "already matches exactly"},
		{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "more than 8"},
	}
	for _, tt := range tests {
		_, err := CompilePath(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CompilePath(%q) = %v, want error containing %q", tt.pattern, err, tt.want)
		}
	}
}

func TestPathPatternCovers(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"/", "/anything", true},
		{"/", "/p/{id}", true},
		{"/products", "/products/{id}", true},
		{"/products", "/products/x", true},
		{"/products", "/productsx", false},
		{"/products/x", "/products", false},
		{"/products/{id}", "/products/42", false}, // the prefix also matches /products/42/x
		{"/products/{id}/**", "/products/42", true},
		{"/products/{id}", "/products/{sku}", true},
		{"/products/{id}", "/products/*.json", false},
		{"/products/*", "/products/{id}", true},
		{"/products/*.json", "/products/a.json", false},
		{"/products/*.json/**", "/products/a.json", true},
		{"/products/*.json", "/products/*.json", true},
		{"/products/*.json", "/products/a.xml", false},
		{"/products/{id}", "/products", false},
		{"/products/{id}", "/products/{id}/**", false},
		{"/products/{id}/**", "/products/{id}", true},
		{"/a/**", "/a", true},
		{"/a", "/a/**", true},
		{"/p/{id}", "/q/{id}", false},
		{"/", "/{$}", true},
		{"/{$}", "/", false},
		{"/companies", "/companies/{$}", true},
		{"/companies/{$}", "/companies", false},
		{"/{$}", "/{$}", true},
	}
	for _, tt := range tests {
		a, err := CompilePath(tt.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := CompilePath(tt.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Covers(b); got != tt.want {
			t.Errorf("%q.Covers(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestTemplate(t *testing.T) {
	known := func(n string) bool { return n == "id" || n == "tenant" || strings.HasPrefix(n, "data.") }
	tests := []struct {
		tpl  string
		vals map[string]string
		want string
		ok   bool
	}{
		{"product:{id}", map[string]string{"id": "42"}, "product:42", true},
		{"{tenant}:all", map[string]string{"tenant": "acme"}, "acme:all", true},
		{"static", nil, "static", true},
		{"cat:{data.category_id}", map[string]string{"data.category_id": "7"}, "cat:7", true},
		{"cat:{data.category_id}", nil, "", false},
		{"product:{id}", map[string]string{"id": "a b,c%"}, "product:a%20b%2Cc%25", true},
		{"product:{id}", map[string]string{"id": strings.Repeat("x", 1100)}, "", false},
	}
	for _, tt := range tests {
		tp, err := tagging.ParseTemplate(tt.tpl, known)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tt.tpl, err)
		}
		got, ok := tp.Expand(func(n string) (string, bool) { v, ok := tt.vals[n]; return v, ok })
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q.Expand = %q, %v; want %q, %v", tt.tpl, got, ok, tt.want, tt.ok)
		}
	}
	for _, bad := range []struct{ tpl, want string }{
		{"", "empty"},
		{"a b", "may not contain"},
		{"a,b", "may not contain"},
		{"x:{id", "without '}'"},
		{"x:id}", "without '{'"},
		{"x:{}", "placeholder"},
		{"x:{nope}", "unknown placeholder {nope}"},
	} {
		if _, err := tagging.ParseTemplate(bad.tpl, known); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseTemplate(%q) = %v, want error containing %q", bad.tpl, err, bad.want)
		}
	}
}

func TestCheckCacheControl(t *testing.T) {
	tests := []struct {
		v      string
		forCDN bool
		want   string // "" = valid
	}{
		{"public, max-age=60", false, ""},
		{"max-age=60, stale-while-revalidate=30, stale-if-error=86400", true, ""},
		{"private, max-age=0", false, ""},
		{`private="Set-Cookie"`, false, ""},
		{"no-cache", false, ""},
		{"public,, max-age=60,", false, ""},
		{"", false, "no directives"},
		{"max-age", false, "needs a number of seconds"},
		{"max-age=abc", false, "needs a number of seconds"},
		{"max-age=-1", false, "needs a number of seconds"},
		{"max_age=60", false, `did you mean "max-age"`},
		{"public=1", false, "takes no value"},
		{"no-store, max-age=60", false, "no-store conflicts with max-age"},
		{"public, private", false, "public conflicts with private"},
		{"max-age=1, max-age=2", false, "appears twice"},
		{"private", true, "mark the route private"},
		{`no-cache="x`, false, "unterminated"},
		{"private=x", false, "quoted list"},
		{"max-age=99999999999", false, "too large"},
	}
	for _, tt := range tests {
		err := CheckCacheControl(tt.v, tt.forCDN)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckCacheControl(%q, %v) = %v, want %q", tt.v, tt.forCDN, err, tt.want)
		}
	}
}
