package gateway

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/headers"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Status: 200, Header: tt.header, RequestTime: resp.Add(-40 * time.Millisecond), ResponseTime: resp}
			m := deriveEntry(e, nil)
			cc, _ := headers.ParseCacheControl(e.Header["Cache-Control"])
			if m.cc != cc {
				t.Errorf("cc = %v, want %v", m.cc, cc)
			}
			if want, _ := headers.FreshnessLifetime(cc, e.Header, e.ResponseTime); m.lifetime != want {
				t.Errorf("lifetime = %v, want %v", m.lifetime, want)
			}
			for _, d := range []time.Duration{-time.Second, 0, 700 * time.Millisecond, time.Hour} {
				now := resp.Add(d)
				if got, want := m.currentAge(e, now), headers.CurrentAge(e.Header, e.RequestTime, e.ResponseTime, now); got != want {
					t.Errorf("age at %v = %v, want %v", d, got, want)
				}
			}
		})
	}
}

// The Age and Cache-Status values of a hit are shared within one second
// on one layer and follow the entry's age.
func TestHitValuesFollowAge(t *testing.T) {
	m := &derived{}
	f := freshness{age: 1500 * time.Millisecond, lifetime: time.Minute}
	a := m.hitValues("cachegate", "l1", f)
	if a.vals[0] != "1" || a.vals[1] != "cachegate; hit; detail=l1; ttl=59" {
		t.Fatalf("values %q", a.vals)
	}
	f.age = 1900 * time.Millisecond
	if b := m.hitValues("cachegate", "l1", f); b != a {
		t.Errorf("same second rendered again: %q", b.vals)
	}
	for _, tc := range []struct {
		layer string
		age   time.Duration
		want  [2]string
	}{
		{"l2", 1900 * time.Millisecond, [2]string{"1", "cachegate; hit; detail=l2; ttl=59"}},
		{"l2", 2100 * time.Millisecond, [2]string{"2", "cachegate; hit; detail=l2; ttl=58"}},
		{"l1", 65200 * time.Millisecond, [2]string{"65", "cachegate; hit; detail=l1; ttl=-5"}},
	} {
		v := m.hitValues("cachegate", tc.layer, freshness{age: tc.age, lifetime: time.Minute})
		if v.vals != tc.want {
			t.Errorf("%s at %v: %q, want %q", tc.layer, tc.age, v.vals, tc.want)
		}
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
			e := &Entry{Status: 200, Header: tc.entry, Body: []byte("hi"), RequestTime: now, ResponseTime: now}
			e.derived = deriveEntry(e, g.internal)
			w := &recorder{h: tc.preset.Clone()}
			if w.h == nil {
				w.h = http.Header{}
			}
			x := &exchange{method: http.MethodGet, req: http.Header{}, d: headers.Decision{Tenant: "acme"}}
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
			if tc.entry.Get("Age") != "" {
				t.Errorf("entry header modified: %v", tc.entry)
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
