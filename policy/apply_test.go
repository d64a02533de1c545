package policy

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestApplyResponse(t *testing.T) {
	origin := func() http.Header {
		return http.Header{
			"Cache-Control":     {"public, max-age=5"},
			"Expires":           {"Thu, 01 Jan 2099 00:00:00 GMT"},
			"Surrogate-Key":     {"company:acme gallery:acme"},
			"Cache-Tag":         {"company, gallery:acme"},
			"Cdn-Cache-Control": {"max-age=999"},
			"Surrogate-Control": {"max-age=999"},
			"Edge-Cache-Tag":    {"x"},
			"Xkey":              {"y"},
			"Vary":              {"Accept-Encoding"},
			"Set-Cookie":        {"a=b"},
			"Etag":              {`"v1"`},
		}
	}
	tests := []struct {
		name string
		d    Decision
		want http.Header
		tags []string
	}{
		{"private authorization", Decision{Tenant: "acme", Private: true, PrivateReason: "authorization"}, http.Header{
			"Cache-Control": {"private, no-store"}, "Vary": {"Accept-Encoding, Authorization"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"private cookie", Decision{Tenant: "acme", Private: true, PrivateReason: "cookie:sessionid"}, http.Header{
			"Cache-Control": {"private, no-store"}, "Vary": {"Accept-Encoding, Cookie"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"private route", Decision{Tenant: "acme", Private: true, PrivateReason: "route:account"}, http.Header{
			"Cache-Control": {"private, no-store"}, "Vary": {"Accept-Encoding, Authorization, Cookie"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"bypass cookie", Decision{Tenant: "acme", Bypass: true, BypassReason: "cookie:staff_preview"}, http.Header{
			"Cache-Control": {"no-store"}, "Vary": {"Accept-Encoding, Cookie"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"bypass header", Decision{Tenant: "acme", Bypass: true, BypassReason: "header:X-Staff-Preview"}, http.Header{
			"Cache-Control": {"no-store"}, "Vary": {"Accept-Encoding, X-Staff-Preview"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"bypass unresolved tenant", Decision{Tenant: UnresolvedTenant, Bypass: true, BypassReason: BypassUnresolvedTenant}, http.Header{
			"Cache-Control": {"no-store"}, "Vary": {"Accept-Encoding"},
			"Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, nil},
		{"public with browser and cdn", Decision{Tenant: "acme", BrowserCacheControl: "public, max-age=60",
			CDNCacheControl: "max-age=86400", CDNCacheControlHeader: "CDN-Cache-Control", Tags: []string{"company:acme", "page"}}, http.Header{
			"Cache-Control": {"public, max-age=60"}, "Cdn-Cache-Control": {"max-age=86400"}, "Surrogate-Control": {"max-age=999"},
			"Vary": {"Accept-Encoding"}, "Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, []string{"company:acme", "gallery:acme", "company", "x", "y", "page"}},
		// The rule's CDN directives replace the origin's CDN-Cache-Control,
		// which a CDN would otherwise follow over the provider's field.
		{"public provider header", Decision{Tenant: "acme", CDNCacheControl: "max-age=60", CDNCacheControlHeader: "Surrogate-Control"}, http.Header{
			"Cache-Control": {"public, max-age=5"}, "Expires": {"Thu, 01 Jan 2099 00:00:00 GMT"},
			"Surrogate-Control": {"max-age=60"},
			"Vary":              {"Accept-Encoding"}, "Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, []string{"company:acme", "gallery:acme", "company", "x", "y"}},
		{"locales vary", Decision{Tenant: "acme", Locales: []string{"en", "de"}}, http.Header{
			"Cache-Control": {"public, max-age=5"}, "Expires": {"Thu, 01 Jan 2099 00:00:00 GMT"},
			"Cdn-Cache-Control": {"max-age=999"}, "Surrogate-Control": {"max-age=999"},
			"Vary": {"Accept-Encoding, Accept-Language"}, "Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, []string{"company:acme", "gallery:acme", "company", "x", "y"}},
		{"respect origin", Decision{Tenant: "acme", TTL: dur(time.Hour)}, http.Header{
			"Cache-Control": {"public, max-age=5"}, "Expires": {"Thu, 01 Jan 2099 00:00:00 GMT"},
			"Cdn-Cache-Control": {"max-age=999"}, "Surrogate-Control": {"max-age=999"},
			"Vary": {"Accept-Encoding"}, "Set-Cookie": {"a=b"}, "Etag": {`"v1"`},
		}, []string{"company:acme", "gallery:acme", "company", "x", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := origin()
			tags := ApplyResponse(tt.d, h)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("headers =\n %v\nwant\n %v", h, tt.want)
			}
			if !reflect.DeepEqual(tags, tt.tags) {
				t.Errorf("tags = %v, want %v", tags, tt.tags)
			}
			// Idempotent: a second application (e.g. on a stored copy)
			// changes nothing more.
			h2 := h.Clone()
			ApplyResponse(tt.d, h2)
			if !reflect.DeepEqual(h, h2) {
				t.Errorf("second ApplyResponse changed %v into %v", h, h2)
			}
		})
	}
}

func TestAddVary(t *testing.T) {
	tests := []struct {
		have  []string
		names []string
		want  []string
	}{
		{nil, []string{"Cookie"}, []string{"Cookie"}},
		{[]string{"cookie"}, []string{"Cookie"}, []string{"cookie"}},
		{[]string{"*"}, []string{"Cookie"}, []string{"*"}},
		{[]string{"Accept-Encoding", "Accept-Language"}, []string{"Cookie", "Authorization", "cookie"},
			[]string{"Accept-Encoding, Accept-Language, Cookie, Authorization"}},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.have != nil {
			h["Vary"] = tt.have
		}
		AddVary(h, tt.names...)
		if !reflect.DeepEqual(h["Vary"], tt.want) {
			t.Errorf("AddVary(%v, %v) = %v, want %v", tt.have, tt.names, h["Vary"], tt.want)
		}
	}
}
