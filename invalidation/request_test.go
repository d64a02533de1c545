package invalidation

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestImplicitTags(t *testing.T) {
	tests := []struct {
		target string
		want   []string
	}{
		{"/", []string{"url:/", "path:/"}},
		{"/a", []string{"url:/a", "path:/", "path:/a"}},
		{"/a/b?x=1", []string{"url:/a/b?x=1", "path:/", "path:/a", "path:/a/b"}},
		{"/a/b/", []string{"url:/a/b/", "path:/", "path:/a", "path:/a/b"}},
	}
	for _, tt := range tests {
		if got := ImplicitTags(tt.target); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ImplicitTags(%q) = %v, want %v", tt.target, got, tt.want)
		}
	}
}

func TestPrefixTagMatchesImplicitTags(t *testing.T) {
	for _, p := range []string{"/a", "/a/", "/a/b"} {
		tag := PrefixTag(p)
		found := false
		for _, it := range ImplicitTags("/a/b/c") {
			found = found || it == tag
		}
		if !found {
			t.Errorf("prefix %q: tag %q not carried by /a/b/c", p, tag)
		}
	}
	for _, it := range ImplicitTags("/ab") {
		if it == PrefixTag("/a") {
			t.Errorf("/ab must not carry the tag of prefix /a")
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		ok   bool
	}{
		{"tags", Request{Tenant: "acme", Tags: []string{"company:acme"}}, true},
		{"everything", Request{Tenant: "acme", Everything: true}, true},
		{"no tenant", Request{Tags: []string{"x"}}, false},
		{"upper tenant", Request{Tenant: "Acme", Tags: []string{"x"}}, false},
		{"nothing", Request{Tenant: "acme"}, false},
		{"space in tag", Request{Tenant: "acme", Tags: []string{"a b"}}, false},
		{"comma in tag", Request{Tenant: "acme", Tags: []string{"a,b"}}, false},
		{"relative url", Request{Tenant: "acme", URLs: []string{"x"}}, false},
	}
	for _, tt := range tests {
		err := tt.req.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not wrap ErrInvalid", tt.name, err)
		}
	}
}

// A purge names a URL or prefix in any spelling RFC 3986 6.2.2 calls
// equivalent; it must reach the tags a response stored under another
// spelling carries.
func TestPurgeSpellingsReachTheStoredTags(t *testing.T) {
	stored := ImplicitTags("/caf%C3%A9/%7Ebob?q=%c3%a9")
	for _, purge := range []Request{
		{Tenant: "t", URLs: []string{"/caf%c3%a9/~bob?q=%C3%A9"}},
		{Tenant: "t", URLs: []string{"/caf%C3%A9/%7ebob?q=%c3%a9"}},
		{Tenant: "t", Prefixes: []string{"/caf%c3%a9"}},
		{Tenant: "t", Prefixes: []string{"/caf%c3%a9/%7Ebob/"}},
	} {
		for _, tag := range purge.StoreTags() {
			if !slices.Contains(stored, tag) {
				t.Errorf("purge %+v: tag %q misses the stored tags %v", purge, tag, stored)
			}
		}
	}
}
