package gateway_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// validating is an origin serving version v (an ETag and a Last-Modified
// per version) with cc, answering a matching conditional with a 304 that
// carries X-Refreshed, and recording what each request asked.
type validating struct {
	version atomic.Int64
	cc      string
	extra   []string
}

func (v *validating) handler(w http.ResponseWriter, r *http.Request) {
	n := v.version.Load()
	etag := `"v` + string(rune('0'+n)) + `"`
	lm := time.Date(2026, 1, 1, 0, 0, int(n), 0, time.UTC).Format(http.TimeFormat)
	w.Header().Set("Cache-Control", v.cc)
	for _, l := range v.extra {
		k, val, _ := strings.Cut(l, ":")
		w.Header().Set(k, strings.TrimSpace(val))
	}
	if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-None-Match") == "" && r.Header.Get("If-Modified-Since") == lm {
		w.Header().Set("X-Refreshed", "yes")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lm)
	io.WriteString(w, "body v"+string(rune('0'+n)))
}

// A response stale on arrival is stored when it has a validator and
// revalidated on every use; a 304 refreshes its header (not its framing)
// and the client is answered from the store; a 200 replaces it.
func TestStaleOnArrivalRevalidated(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name  string
		cc    string
		extra []string
	}{
		{"max-age=0", "max-age=0", nil},
		{"no-cache", "no-cache", nil},
		{"no-cache with max-age", "no-cache, max-age=600", nil},
		{"past expires", "", []string{"Expires: " + past}},
		{"must-revalidate", "must-revalidate, max-age=0", nil},
		{"vary", "max-age=0", []string{"Vary: X-Variant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &validating{cc: tt.cc, extra: tt.extra}
			o := startOrigin(t, v.handler)
			g := startGateway(t, o, nil)
			r := g.get(t, "/a", "X-Variant: blue")
			wantStatus(t, r, "stored")
			if r.body != "body v0" {
				t.Fatalf("body %q", r.body)
			}
			r = g.get(t, "/a", "X-Variant: blue")
			req := o.last()
			if req.Header.Get("If-None-Match") != `"v0"` || req.Header.Get("If-Modified-Since") == "" {
				t.Fatalf("revalidation sent If-None-Match %q, If-Modified-Since %q", req.Header.Get("If-None-Match"), req.Header.Get("If-Modified-Since"))
			}
			if req.Header.Get("X-Variant") != "blue" {
				t.Fatalf("revalidation lost the Vary'd request header: %q", req.Header.Get("X-Variant"))
			}
			if r.status != 200 || r.body != "body v0" || r.header.Get("X-Refreshed") != "yes" || r.header.Get("Content-Length") != "7" {
				t.Fatalf("after a 304: %d %q X-Refreshed %q Content-Length %q", r.status, r.body, r.header.Get("X-Refreshed"), r.header.Get("Content-Length"))
			}
			wantStatus(t, r, "fwd=stale", "fwd-status=304")
			if o.requests.Load() != 2 {
				t.Fatalf("origin saw %d requests", o.requests.Load())
			}
			// The origin changed: its 200 replaces the stored response.
			v.version.Store(1)
			r = g.get(t, "/a", "X-Variant: blue")
			if r.body != "body v1" {
				t.Fatalf("after a 200: %q", r.body)
			}
			wantStatus(t, r, "fwd-status=200", "stored")
			g.get(t, "/a", "X-Variant: blue")
			if got := o.last().Header.Get("If-None-Match"); got != `"v1"` {
				t.Fatalf("next revalidation used %q, want the replacing response's ETag", got)
			}
		})
	}
}

// Any final status with explicit freshness is stored, not only the
// heuristically cacheable ones; no-store, must-understand is stored only
// for a status the cache understands.
func TestStoresAnyFinalStatus(t *testing.T) {
	tests := []struct {
		status int
		cc     string
		stored bool
	}{
		{302, "max-age=60", true},
		{307, "max-age=60", true},
		{400, "max-age=60", true},
		{500, "max-age=60", true},
		{503, "max-age=60", true},
		{299, "max-age=60", true},
		{599, "max-age=60", true},
		{200, "max-age=60, no-store, must-understand", true},
		{299, "max-age=60, no-store, must-understand", false},
		{500, "", false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+" "+tt.cc, func(t *testing.T) {
			o := startOrigin(t, originWith(tt.status, "Cache-Control: "+tt.cc, "Location: /elsewhere"))
			g := startGateway(t, o, nil)
			g.get(t, "/s")
			r := g.get(t, "/s")
			if r.status != tt.status {
				t.Fatalf("status %d", r.status)
			}
			if tt.stored {
				wantStatus(t, r, "hit")
			} else {
				wantNoStatus(t, r, "hit")
			}
		})
	}
}

// must-revalidate, proxy-revalidate, s-maxage and no-cache forbid serving
// stale, also when the origin fails and the response allows stale-if-error;
// without them the same outage is answered stale.
func TestNoStaleWhereForbidden(t *testing.T) {
	tests := []struct {
		cc        string
		staleOK   bool
		originOff bool
	}{
		{"max-age=1, stale-if-error=600", true, false},
		{"max-age=1, stale-if-error=600", true, true},
		{"max-age=1, must-revalidate, stale-if-error=600", false, false},
		{"max-age=1, must-revalidate, stale-if-error=600", false, true},
		{"max-age=1, proxy-revalidate, stale-if-error=600", false, false},
		{"s-maxage=1, stale-if-error=600", false, false},
		{"s-maxage=1, stale-if-error=600", false, true},
		{"no-cache, max-age=600, stale-if-error=600", false, false},
		{"no-cache, stale-if-error=600", false, true},
		{"max-age=0, must-revalidate, stale-while-revalidate=600", false, false},
	}
	for _, tt := range tests {
		name := tt.cc
		if tt.originOff {
			name += " origin down"
		}
		t.Run(name, func(t *testing.T) {
			var failing atomic.Bool
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					w.WriteHeader(http.StatusServiceUnavailable)
					io.WriteString(w, "down")
					return
				}
				w.Header().Set("Cache-Control", tt.cc)
				w.Header().Set("ETag", `"e"`)
				io.WriteString(w, "good")
			})
			g := startGateway(t, o, nil)
			wantStatus(t, g.get(t, "/p"), "stored")
			g.advance(2 * time.Second)
			failing.Store(true)
			if tt.originOff {
				o.srv.Close()
			}
			r := g.get(t, "/p")
			if tt.staleOK {
				if r.body != "good" {
					t.Fatalf("want the stale response, got %d %q", r.status, r.body)
				}
				return
			}
			if r.body == "good" || r.status < 500 {
				t.Fatalf("served stale where forbidden: %d %q %q", r.status, r.body, r.cacheStatus())
			}
		})
	}
}

// Strict parsing: an Expires that is not one valid IMF-fixdate means
// expired, an Age list is read by its first member, and the obsolete date
// forms recipients must accept are accepted.
func TestStrictFreshnessParsing(t *testing.T) {
	soon := time.Now().Add(time.Hour).UTC()
	imf := soon.Format(http.TimeFormat)
	tests := []struct {
		name  string
		lines []string
		fresh bool
	}{
		{"valid expires", []string{"Expires: " + imf}, true},
		{"rfc 850 expires", []string{"Expires: " + soon.Format("Monday, 02-Jan-06 15:04:05 GMT")}, true},
		{"asctime expires", []string{"Expires: " + soon.Format(time.ANSIC)}, true},
		{"extra spaces", []string{"Expires: " + strings.Replace(imf, " ", "  ", 1)}, false},
		// A date a year ahead at 3 o'clock: "3" is the 12-hour hour, two
		// digits from 10 to 12, so soon's own hour would make a valid date
		// for a quarter of the day.
		{"one-digit hour", []string{"Expires: " + time.Date(soon.Year()+1, 1, 2, 3, 4, 5, 0, time.UTC).Format("Mon, 02 Jan 2006 3:04:05 GMT")}, false},
		{"dashes", []string{"Expires: " + soon.Format("Mon, 02-Jan-2006 15:04:05 GMT")}, false},
		{"two lines", []string{"Expires: " + imf, "Expires: " + imf}, false},
		{"age list, large first", []string{"Cache-Control: max-age=60", "Age: 9999, 1"}, false},
		{"age lines, large first", []string{"Cache-Control: max-age=60", "Age: 9999", "Age: 1"}, false},
		{"negative age ignored", []string{"Cache-Control: max-age=60", "Age: -9999"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, originWith(200, tt.lines...))
			g := startGateway(t, o, nil)
			g.get(t, "/d")
			r := g.get(t, "/d")
			if got := strings.Contains(r.cacheStatus(), "hit"); got != tt.fresh {
				t.Fatalf("fresh %v, want %v (%q)", got, tt.fresh, r.cacheStatus())
			}
		})
	}
}

// rawOrigin answers every connection with raw bytes.
func rawOrigin(t *testing.T, raw string) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 8192)
				c.Read(buf)
				io.WriteString(c, raw)
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}
}

// Odd framing from the origin: readable messages are stored without their
// framing fields; broken ones get a 502 saying so.
func TestOriginFraming(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		broken bool
	}{
		{"chunked with a content-length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false},
		{"duplicate equal content-length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", false},
		{"conflicting content-length", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\nhello", true},
		{"unknown transfer-encoding", "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := startOrigin(t, func(http.ResponseWriter, *http.Request) {})
			u := rawOrigin(t, tt.raw)
			g := startGateway(t, o, func(c *gateway.Config) { c.Origin = u })
			r := g.get(t, "/f")
			if tt.broken {
				if r.status != http.StatusBadGateway || !strings.Contains(r.body, "malformed") {
					t.Fatalf("got %d %q", r.status, r.body)
				}
				wantStatus(t, r, "detail=origin-malformed")
				return
			}
			r = g.get(t, "/f")
			wantStatus(t, r, "hit")
			if r.body != "hello" || r.header.Get("Content-Length") != "5" || r.header.Get("Transfer-Encoding") != "" {
				t.Fatalf("hit: %q Content-Length %q Transfer-Encoding %q", r.body, r.header.Get("Content-Length"), r.header.Get("Transfer-Encoding"))
			}
		})
	}
}

// An origin's private reaches the client unchanged and is not stored;
// private, no-store is what cachegate sends only for what it decides is
// private.
func TestOriginPrivatePassedUnchanged(t *testing.T) {
	o := startOrigin(t, originWith(200, "Cache-Control: private, max-age=60"))
	g := startGateway(t, o, nil)
	for range 2 {
		r := g.get(t, "/me")
		if cc := r.header.Get("Cache-Control"); cc != "private, max-age=60" {
			t.Fatalf("Cache-Control %q", cc)
		}
		wantStatus(t, r, "detail=origin-private")
		wantNoStatus(t, r, "stored")
	}
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
	r := g.get(t, "/me", "Authorization: Bearer x")
	if cc := r.header.Get("Cache-Control"); cc != "private, no-store" {
		t.Fatalf("authorized: Cache-Control %q", cc)
	}
}

// If-Modified-Since is answered 304 from a fresh stored response without a
// Last-Modified, by its Date.
func TestIfModifiedSinceByDate(t *testing.T) {
	date := time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)
	o := startOrigin(t, originWith(200, "Cache-Control: max-age=600", "Date: "+date))
	g := startGateway(t, o, nil)
	g.get(t, "/d")
	r := g.get(t, "/d", "If-Modified-Since: "+date)
	if r.status != http.StatusNotModified {
		t.Fatalf("status %d, want 304 (%q)", r.status, r.cacheStatus())
	}
	before := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	if r := g.get(t, "/d", "If-Modified-Since: "+before); r.status != 200 {
		t.Fatalf("older If-Modified-Since: %d", r.status)
	}
}

// A Vary: * response is not stored, and not sent to the CDN as shareable:
// no rule directives, no tags.
func TestVaryStarNotSharedWithCDN(t *testing.T) {
	o := startOrigin(t, originWith(200, "Cache-Control: max-age=60", "Vary: *", "Surrogate-Key: product:1"))
	g := startGateway(t, o, func(c *gateway.Config) {
		c.Policy = gateway.PolicyFunc(publicRule)
		c.TagEmitter = cloudflare(t)
	})
	for range 2 {
		r := g.get(t, "/v")
		wantStatus(t, r, "detail=vary-star")
		if got := r.header.Get("Cache-Tag"); got != "" {
			t.Fatalf("Cache-Tag %q sent for a Vary: * response", got)
		}
		if got := r.header.Get("Cloudflare-CDN-Cache-Control"); got != "" {
			t.Fatalf("CDN directives %q sent for a Vary: * response", got)
		}
		if got := r.header.Get("Cache-Control"); got != "max-age=60" {
			t.Fatalf("Cache-Control %q", got)
		}
	}
	if o.requests.Load() != 2 {
		t.Fatalf("origin saw %d", o.requests.Load())
	}
}
