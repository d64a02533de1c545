package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Any method reaches the origin, and a successful response to a method not
// known to be safe invalidates its target and the Location /
// Content-Location it names on the same host (RFC 9111 4.4).
func TestEveryMethodIsForwardedAndUnsafeOnesInvalidate(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.Header().Set("Cache-Control", "max-age=300")
			io.WriteString(w, "page "+r.URL.Path)
			return
		}
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Location", "/loc")
		w.Header().Set("Content-Location", "http://T9.example:8080/cloc")
		if r.URL.Path == "/elsewhere" {
			w.Header().Set("Location", "http://other.example/loc")
			w.Header().Set("Content-Location", "http://other.example/cloc")
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "did "+r.Method)
	})
	g := startGateway(t, o, nil)
	get := func(path string) result { return g.do(t, http.MethodGet, "t9.example", path) }
	fill := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			get(p)
			wantStatus(t, get(p), "hit")
		}
	}
	tests := []struct {
		method, path string
		gone, kept   []string // targets invalidated and left cached
	}{
		{"M-SEARCH", "/ssdp", []string{"/ssdp", "/loc", "/cloc"}, nil},
		{"MKCOL", "/dav/", []string{"/dav/", "/loc", "/cloc"}, nil},
		{"COPY", "/dav/a", []string{"/dav/a"}, nil},
		{"BREW", "/pot", []string{"/pot"}, nil},
		{"POST", "/elsewhere", []string{"/elsewhere"}, []string{"/loc", "/cloc"}},
		{"PROPFIND", "/dav/p", nil, []string{"/dav/p", "/loc"}},
		{"REPORT", "/dav/r", nil, []string{"/dav/r"}},
		{"OPTIONS", "/opt", nil, []string{"/opt"}},
		{"DELETE", "/missing", nil, []string{"/missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			fill(append(append([]string{tc.path}, tc.gone...), tc.kept...)...)
			r := g.do(t, tc.method, "t9.example", tc.path)
			if r.status == http.StatusMethodNotAllowed {
				t.Fatalf("%s answered 405 by the gateway, not forwarded: %q", tc.method, r.body)
			}
			if got := o.last(); got.Method != tc.method || got.URL.Path != tc.path {
				t.Fatalf("origin saw %s %s", got.Method, got.URL.Path)
			}
			wantStatus(t, r, "fwd=method")
			for _, p := range tc.gone {
				if s := get(p).cacheStatus(); strings.Contains(s, "hit") {
					t.Errorf("%s %s left %s cached: %s", tc.method, tc.path, p, s)
				}
			}
			for _, p := range tc.kept {
				if s := get(p).cacheStatus(); !strings.Contains(s, "hit") {
					t.Errorf("%s %s invalidated %s: %s", tc.method, tc.path, p, s)
				}
			}
		})
	}
}
