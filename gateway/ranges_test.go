package gateway

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestServeRange(t *testing.T) {
	body := "0123456789abcdefghij" // 20 bytes
	e := &Entry{Status: http.StatusOK, Body: []byte(body)}
	e.SetHeader(http.Header{
		"Etag":          {`"v1"`},
		"Last-Modified": {"Mon, 02 Jan 2006 15:04:05 GMT"},
		"Content-Type":  {"text/plain"},
	})
	tests := []struct {
		name, rng, ifRange string
		status             int
		contentRange, body string
	}{
		{"single", "bytes=2-4", "", 206, "bytes 2-4/20", "234"},
		{"open", "bytes=15-", "", 206, "bytes 15-19/20", "fghij"},
		{"suffix", "bytes=-3", "", 206, "bytes 17-19/20", "hij"},
		{"past the end is clipped", "bytes=18-99", "", 206, "bytes 18-19/20", "ij"},
		{"upper-case unit", "BYTES=0-0", "", 206, "bytes 0-0/20", "0"},
		{"unsatisfiable", "bytes=20-", "", 416, "bytes */20", ""},
		{"unsatisfiable suffix", "bytes=-0", "", 416, "bytes */20", ""},
		{"zero suffix among others", "bytes=-0,0-1", "", 206, "bytes 0-1/20", "01"},
		{"If-Range matching ETag", "bytes=0-1", `"v1"`, 206, "bytes 0-1/20", "01"},
		{"If-Range other ETag", "bytes=0-1", `"v0"`, 200, "", body},
		{"If-Range weak ETag", "bytes=0-1", `W/"v1"`, 200, "", body},
		{"If-Range matching date", "bytes=0-1", "Mon, 02 Jan 2006 15:04:05 GMT", 206, "bytes 0-1/20", "01"},
		{"If-Range other date", "bytes=0-1", "Mon, 02 Jan 2006 15:04:06 GMT", 200, "", body},
		{"more than the body", "bytes=0-15,5-19", "", 200, "", body},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := http.Header{"Range": {tc.rng}}
			if tc.ifRange != "" {
				req.Set("If-Range", tc.ifRange)
			}
			x := &exchange{method: http.MethodGet, req: req}
			if !rangeRequested(x, e) {
				t.Fatal("not a range request")
			}
			w := httptest.NewRecorder()
			e.header.copyTo(w.Header())
			serveRange(w, x, e)
			if w.Code != tc.status || w.Header().Get("Content-Range") != tc.contentRange {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Header().Get("Content-Range"), tc.status, tc.contentRange)
			}
			if tc.status != 416 && w.Body.String() != tc.body {
				t.Fatalf("body %q want %q", w.Body.String(), tc.body)
			}
			if tc.status == 206 && w.Header().Get("Content-Length") != strconv.Itoa(len(tc.body)) {
				t.Fatalf("Content-Length %q for %d bytes", w.Header().Get("Content-Length"), len(tc.body))
			}
		})
	}
	t.Run("several ranges", func(t *testing.T) {
		x := &exchange{method: http.MethodGet, req: http.Header{"Range": {"bytes=0-1,-2"}}}
		w := httptest.NewRecorder()
		w.Header()["Content-Type"] = e.header.values("Content-Type")
		serveRange(w, x, e)
		if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") ||
			!strings.Contains(w.Body.String(), "Content-Range: bytes 18-19/20") {
			t.Fatalf("%d %v\n%s", w.Code, w.Header(), w.Body)
		}
	})
	t.Run("no type is sniffed", func(t *testing.T) {
		bare := &Entry{Status: 200, Body: []byte("<html>")}
		x := &exchange{method: http.MethodGet, req: http.Header{"Range": {"bytes=0-1"}}}
		w := httptest.NewRecorder()
		serveRange(w, x, bare)
		if ct := w.Header().Get("Content-Type"); ct != "" {
			t.Fatalf("Content-Type %q added", ct)
		}
	})
}

func TestRangeRequested(t *testing.T) {
	ok := &Entry{Status: 200}
	tests := []struct {
		method string
		rng    []string
		e      *Entry
		want   bool
	}{
		{"GET", []string{"bytes=0-1"}, ok, true},
		{"HEAD", []string{"bytes=0-1"}, ok, false},
		{"GET", nil, ok, false},
		{"GET", []string{"items=0-1"}, ok, false},
		{"GET", []string{"bytes="}, ok, false},
		{"GET", []string{"bytes=0-1", "bytes=2-3"}, ok, false},
		{"GET", []string{"bytes=0-1"}, &Entry{Status: 404}, false},
	}
	for _, tc := range tests {
		x := &exchange{method: tc.method, req: http.Header{"Range": tc.rng}}
		if got := rangeRequested(x, tc.e); got != tc.want {
			t.Errorf("%s %q on %d: %v", tc.method, tc.rng, tc.e.Status, got)
		}
	}
}

func TestSingleRange(t *testing.T) {
	tests := []struct {
		spec       string
		start, end int64
		ok         bool
	}{
		{"0-9", 0, 9, true},
		{" 5-5 ", 5, 5, true},
		{"990-", 990, 999, true},
		{"500-5000", 500, 999, true},
		{"-10", 990, 999, true},
		{"-5000", 0, 999, true},
		{"-0", 0, 0, false},
		{"1000-", 0, 0, false},
		{"9-5", 0, 0, false},
		{"0-1,3-4", 0, 0, false},
		{"-", 0, 0, false},
		{"a-b", 0, 0, false},
		{"--1", 0, 0, false},
		{"99999999999999999999-", 0, 0, false},
	}
	for _, tc := range tests {
		start, end, ok := singleRange(tc.spec, 1000)
		if ok != tc.ok || ok && (start != tc.start || end != tc.end) {
			t.Errorf("singleRange(%q) = %d, %d, %v; want %d, %d, %v", tc.spec, start, end, ok, tc.start, tc.end, tc.ok)
		}
	}
}
