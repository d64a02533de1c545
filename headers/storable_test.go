package headers

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStorable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	past := now.Add(-time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name   string
		status int
		header []string // "Name: value"
		mod    func(*StoreInput)
		detail string // "" stored
		share  Share
	}{
		{"max-age", 200, []string{"Cache-Control: max-age=60"}, nil, "", SharePublic},
		// Stale on arrival with a validator: stored, revalidated on use.
		{"max-age=0 with etag", 200, []string{"Cache-Control: max-age=0", `ETag: "v"`}, nil, "", SharePublic},
		{"no-cache with etag", 200, []string{"Cache-Control: no-cache", `ETag: "v"`}, nil, "", SharePublic},
		{"past expires with last-modified", 200, []string{"Expires: " + past, "Last-Modified: " + past}, nil, "", SharePublic},
		{"must-revalidate, max-age=0, etag", 200, []string{"Cache-Control: must-revalidate, max-age=0", `ETag: "v"`}, nil, "", SharePublic},
		{"validator only", 200, []string{`ETag: "v"`}, nil, "", SharePublic},
		{"no freshness, no validator", 200, nil, nil, DetailNoFreshness, SharePublic},
		{"policy ttl", 200, nil, func(in *StoreInput) { in.PolicyTTL = true }, "", SharePublic},
		{"heuristic on", 200, []string{"Last-Modified: Mon, 02 Jan 2006 15:04:05 GMT"}, func(in *StoreInput) { in.Heuristic = true }, "", SharePublic},
		// Any final status with explicit freshness.
		{"302", 302, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"307", 307, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"400", 400, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"500", 500, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"503 expires", 503, []string{"Expires: " + now.Add(time.Hour).Format(http.TimeFormat)}, nil, "", ShareOrigin},
		{"unknown 299", 299, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"unknown 599", 599, []string{"Cache-Control: max-age=60"}, nil, "", ShareOrigin},
		{"500 with a validator only", 500, []string{`ETag: "v"`}, nil, DetailNoFreshness, ShareOrigin},
		{"206", 206, []string{"Cache-Control: max-age=60"}, nil, DetailStatus, ShareOrigin},
		// The origin's answer to the request's own precondition.
		{"412 to If-Match", 412, []string{"Cache-Control: max-age=60"}, func(in *StoreInput) { in.Preconditioned = true }, DetailPrecondition, ShareOrigin},
		{"200 to If-Match", 200, []string{"Cache-Control: max-age=60"}, func(in *StoreInput) { in.Preconditioned = true }, "", SharePublic},
		{"304", 304, []string{"Cache-Control: max-age=60"}, nil, DetailStatus, ShareOrigin},
		{"1xx", 103, []string{"Cache-Control: max-age=60"}, nil, DetailStatus, ShareOrigin},
		{"no-store", 200, []string{"Cache-Control: max-age=60, no-store"}, nil, DetailOriginNoStore, ShareOrigin},
		{"no-store, must-understand, known status", 200, []string{"Cache-Control: max-age=60, no-store, must-understand"}, nil, "", SharePublic},
		{"no-store, must-understand, unknown status", 299, []string{"Cache-Control: max-age=60, no-store, must-understand"}, nil, DetailStatus, ShareOrigin},
		{"must-understand alone, unknown status", 299, []string{"Cache-Control: max-age=60, must-understand"}, nil, DetailStatus, ShareOrigin},
		{"private", 200, []string{"Cache-Control: private, max-age=60"}, nil, DetailOriginPrivate, ShareOrigin},
		{"qualified private", 200, []string{`Cache-Control: private="x", max-age=60`}, nil, DetailOriginPrivate, ShareOrigin},
		{"set-cookie", 200, []string{"Cache-Control: max-age=60", "Set-Cookie: a=1"}, nil, DetailSetCookie, SharePrivate},
		{"vary star", 200, []string{"Cache-Control: max-age=60", "Vary: Accept, *"}, nil, DetailVaryStar, ShareOrigin},
		{"request no-store", 200, []string{"Cache-Control: max-age=60"}, func(in *StoreInput) { in.RequestNoStore = true }, DetailRequestNoStore, SharePublic},
		{"override: origin private", 200, []string{"Cache-Control: private"}, func(in *StoreInput) { in.Override, in.PolicyTTL = true, true }, "", SharePublic},
		{"override: origin no-store", 200, []string{"Cache-Control: no-store"}, func(in *StoreInput) { in.Override, in.PolicyTTL = true, true }, "", SharePublic},
		{"override never stores set-cookie", 200, []string{"Set-Cookie: a=1"}, func(in *StoreInput) { in.Override, in.PolicyTTL = true, true }, DetailSetCookie, SharePrivate},
		{"override never stores vary star", 200, []string{"Vary: *"}, func(in *StoreInput) { in.Override, in.PolicyTTL = true, true }, DetailVaryStar, ShareOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.header {
				k, v, _ := strings.Cut(l, ":")
				h.Add(k, strings.TrimSpace(v))
			}
			cc, _ := ParseCacheControl(h["Cache-Control"])
			in := StoreInput{Status: tt.status, Header: h, CC: cc, ResponseTime: now}
			if tt.mod != nil {
				tt.mod(&in)
			}
			ok, detail := Storable(in)
			if ok != (tt.detail == "") || detail != tt.detail {
				t.Fatalf("Storable = %v, %q; want detail %q", ok, detail, tt.detail)
			}
			if got := ShareAs(tt.status, h, cc, in.Override); got != tt.share {
				t.Fatalf("ShareAs = %v, want %v", got, tt.share)
			}
		})
	}
}

// FuzzStorable: the two decisions agree. Nothing the store refuses for
// what the response says is announced as public, and a response shared as
// public is stored whenever it states freshness.
func FuzzStorable(f *testing.F) {
	f.Add(200, "max-age=60", "", false)
	f.Add(200, "max-age=60", "*", false)
	f.Add(500, "max-age=60", "", false)
	f.Add(299, "no-store, must-understand", "", false)
	f.Add(200, "private", "", true)
	f.Fuzz(func(t *testing.T, status int, cc, vary string, override bool) {
		h := http.Header{"Cache-Control": {cc}}
		if vary != "" {
			h["Vary"] = []string{vary}
		}
		c, _ := ParseCacheControl(h["Cache-Control"])
		in := StoreInput{Status: status, Header: h, CC: c, Override: override, PolicyTTL: true, ResponseTime: time.Unix(0, 0)}
		ok, detail := Storable(in)
		if ok == (detail != "") {
			t.Fatalf("ok %v with detail %q", ok, detail)
		}
		share := ShareAs(status, h, c, override)
		if share == SharePublic && !ok {
			t.Fatalf("status %d %q vary %q: shared as public but not stored (%s)", status, cc, vary, detail)
		}
	})
}
