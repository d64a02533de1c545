package gateway

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
)

// The values derived once per entry are exactly what parsing the stored
// header on every hit gives, at any instant.
func TestDerivedMatchesHeaders(t *testing.T) {
	resp := time.Date(2026, 3, 1, 12, 0, 0, 300e6, time.UTC)
	date := resp.Truncate(time.Second).Format(http.TimeFormat)
	tests := []struct {
		name   string
		header http.Header
	}{
		{"max-age", http.Header{"Cache-Control": {"public, max-age=60"}, "Date": {date}}},
		{"s-maxage wins", http.Header{"Cache-Control": {"max-age=60, s-maxage=10, stale-while-revalidate=5"}}},
		{"expires minus date", http.Header{"Expires": {resp.Add(90 * time.Second).Format(http.TimeFormat)}, "Date": {date}}},
		{"expires without date", http.Header{"Expires": {resp.Add(90 * time.Second).Format(http.TimeFormat)}}},
		{"invalid expires", http.Header{"Expires": {"0"}, "Date": {date}}},
		{"none", http.Header{"Content-Type": {"text/plain"}}},
		{"age and old date", http.Header{"Cache-Control": {"max-age=600"}, "Age": {"30"}, "Date": {resp.Add(-time.Minute).Format(http.TimeFormat)}}},
		{"date in the future", http.Header{"Cache-Control": {"max-age=600"}, "Date": {resp.Add(time.Hour).Format(http.TimeFormat)}}},
		{"bad directives", http.Header{"Cache-Control": {`max-age=x, no-cache="a, b", must-revalidate`}}},
		{"stale windows past 2^31 seconds", http.Header{"Cache-Control": {"max-age=1, stale-while-revalidate=2147483647, stale-if-error=99999999999999"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Status: 200, RequestTime: resp.Add(-40 * time.Millisecond), ResponseTime: resp}
			e.SetHeader(tt.header)
			m := deriveEntry(e, tt.header, nil)
			cc, _ := headers.ParseCacheControl(tt.header["Cache-Control"])
			if swr, sie := m.staleWindows(); swr != cc.StaleWhileRevalidate || sie != cc.StaleIfError || m.noCache != cc.NoCache || m.mustRevalidate != cc.MustRevalidateShared() {
				t.Errorf("derived %+v from %v", m, cc)
			}
			if want, _ := headers.FreshnessLifetime(cc, tt.header, e.ResponseTime); m.lifetime != want {
				t.Errorf("lifetime = %v, want %v", m.lifetime, want)
			}
			for _, d := range []time.Duration{-time.Second, 0, 700 * time.Millisecond, time.Hour} {
				now := resp.Add(d)
				if got, want := m.currentAge(e, now), headers.CurrentAge(tt.header, e.RequestTime, e.ResponseTime, now); got != want {
					t.Errorf("age at %v = %v, want %v", d, got, want)
				}
			}
		})
	}
}

// The Age and Cache-Status values of hits are shared between hits of the
// same age and ttl, and are what formatting them gives.
func TestHitValues(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	g, err := New(Config{Origin: u, L1: NewTestStore()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		layer     string
		age, ttl  int64
		wantAge   string
		wantState string
	}{
		{"l1", 1, 59, "1", "cachegate; hit; detail=l1; ttl=59"},
		{"l2", 1, 59, "1", "cachegate; hit; detail=l2; ttl=59"},
		{"l1", 2, 58, "2", "cachegate; hit; detail=l1; ttl=58"},
		{"l1", 65, -5, "65", "cachegate; hit; detail=l1; ttl=-5"},
		{"l1", 65 + hitCacheSlots, -5 - hitCacheSlots, "1089", "cachegate; hit; detail=l1; ttl=-1029"}, // same slots
		{"l1", 65, -5, "65", "cachegate; hit; detail=l1; ttl=-5"},
		{"other", 3, 7, "3", "cachegate; hit; detail=other; ttl=7"},
	} {
		a, s := g.ageValue(tc.age), g.hitStatusValue(tc.layer, tc.ttl)
		if len(a) != 1 || cap(a) != 1 || a[0] != tc.wantAge || len(s) != 1 || cap(s) != 1 || s[0] != tc.wantState {
			t.Errorf("%s age %d ttl %d: %q %q (caps %d %d)", tc.layer, tc.age, tc.ttl, a, s, cap(a), cap(s))
		}
		if a2, s2 := g.ageValue(tc.age), g.hitStatusValue(tc.layer, tc.ttl); &a2[0] != &a[0] || tc.layer != "other" && &s2[0] != &s[0] {
			t.Errorf("%s age %d ttl %d: formatted again", tc.layer, tc.age, tc.ttl)
		}
	}
}

// Every L1 entry carries its derived values: they must stay small.
func TestDerivedIsSmall(t *testing.T) {
	if n := unsafe.Sizeof(derived{}); n > 48 {
		t.Errorf("derived is %d bytes, want at most 48", n)
	}
}

// A hit strips what the origin addressed to a CDN when there is none,
// whether the entry holds such a header or the response already did.
func TestWriteHitStripsInternalHeaders(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	g, err := New(Config{Origin: u, L1: NewTestStore()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name     string
		entry    http.Header
		preset   http.Header
		wantGone []string
	}{
		{"entry with CDN header", http.Header{"Cache-Control": {"max-age=60"}, "Cdn-Cache-Control": {"max-age=600"}}, nil, []string{"Cdn-Cache-Control"}},
		{"plain entry, preset header", http.Header{"Cache-Control": {"max-age=60"}}, http.Header{"Surrogate-Control": {"max-age=1"}}, []string{"Surrogate-Control"}},
		{"plain entry", http.Header{"Cache-Control": {"max-age=60"}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Entry{Status: 200, Body: []byte("hi"), RequestTime: now, ResponseTime: now}
			e.SetHeader(tc.entry)
			e.derived = deriveEntry(e, tc.entry, &g.rules)
			w := &recorder{h: tc.preset.Clone()}
			if w.h == nil {
				w.h = http.Header{}
			}
			x := &exchange{method: http.MethodGet, req: http.Header{}, d: policy.Decision{Tenant: "acme"}}
			g.writeHit(w, x, e, "l1", g.evaluate(x, e, now))
			for _, k := range tc.wantGone {
				if _, ok := w.h[k]; ok {
					t.Errorf("%s sent: %v", k, w.h)
				}
			}
			if w.h.Get("Cache-Control") != "max-age=60" || w.h.Get("Age") != "0" ||
				!strings.HasPrefix(w.h.Get("Cache-Status"), "cachegate; hit; detail=l1") || w.body != "hi" {
				t.Errorf("response %d %v %q", w.status, w.h, w.body)
			}
			if e.HeaderValue("Age") != "" || len(e.Header()) != len(tc.entry) {
				t.Errorf("entry header modified: %v", e.Header())
			}
		})
	}
}

type recorder struct {
	h      http.Header
	status int
	body   string
}

func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(p []byte) (int, error) { r.body += string(p); return len(p), nil }
func (r *recorder) WriteHeader(code int)        { r.status = code }

// requestTarget is r.URL.RequestURI() for every request line a server
// may read.
func TestRequestTarget(t *testing.T) {
	for _, target := range []string{
		"/", "/a/b", "/a/b?x=1&y=2", "/a%2Fb", "/a%2fb?q=%20", "/caf%C3%A9", "/café", "/a b",
		"/a?", "/?x", "//double", "/a;b", "/%7Euser", "/~user", "*",
		"http://acme/companies/acme?page=1", "http://acme", "/a?x=%zz",
	} {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: acme\r\n\r\n")))
		if err != nil {
			continue // not a request line a server accepts
		}
		if got, want := requestTarget(r), r.URL.RequestURI(); got != want {
			t.Errorf("%q: %q, want %q", target, got, want)
		}
	}
}
