package conformance

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// staleCases: validation and serving stale (RFC 9111 4.2.4, 4.3; RFC 5861).
func staleCases() []kase {
	var cs []kase
	for _, c := range []struct{ name, hdr string }{
		{"max-age=0", "Cache-Control: max-age=0"},
		{"no-cache", "Cache-Control: no-cache"},
		{"must-revalidate", "Cache-Control: max-age=0, must-revalidate"},
		{"past Expires", "Expires: Mon, 01 Jan 2001 00:00:00 GMT"},
	} {
		cs = append(cs, kase{"RFC 9111 4.3", "stale on arrival (" + c.name + ") with an ETag is stored and revalidated; a 304 updates it", func(t *testing.T, e *env, p string) {
			e.o.handle(p, revalidating("body", c.hdr, `ETag: "v1"`))
			path := p + "/x"
			e.s.get(t, path)
			r := e.s.get(t, path)
			reqs := e.o.requests(path)
			if len(reqs) != 2 || reqs[1].Header.Get("If-None-Match") != `"v1"` {
				t.Fatalf("origin asked %d times; the second did not send If-None-Match", len(reqs))
			}
			if r.status != 200 || r.body != "body" || r.header.Get("X-Rev") != "2" {
				t.Fatalf("after the 304: %d %q X-Rev %q, want the stored body with the 304's header", r.status, r.body, r.header.Get("X-Rev"))
			}
		}})
	}
	cs = append(cs,
		kase{"RFC 9111 4.3.1", "Last-Modified is sent as If-Modified-Since", func(t *testing.T, e *env, p string) {
			e.o.handle(p, revalidating("body", "Cache-Control: no-cache", "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT"))
			e.s.get(t, p+"/x")
			r := e.s.get(t, p+"/x")
			if reqs := e.o.requests(p + "/x"); len(reqs) != 2 || reqs[1].Header.Get("If-Modified-Since") == "" || r.body != "body" {
				t.Fatalf("origin asked %d times, body %q", len(reqs), r.body)
			}
		}},
		kase{"RFC 9111 4.3.1", "a revalidation sends the request headers named by Vary", func(t *testing.T, e *env, p string) {
			e.o.handle(p, revalidating("body", "Cache-Control: no-cache", `ETag: "v1"`, "Vary: Accept-Language"))
			e.s.get(t, p+"/x", "Accept-Language: de")
			e.s.get(t, p+"/x", "Accept-Language: de")
			if reqs := e.o.requests(p + "/x"); len(reqs) != 2 || reqs[1].Header.Get("Accept-Language") != "de" || reqs[1].Header.Get("If-None-Match") == "" {
				t.Fatalf("origin asked %d times, the revalidation without the Vary'd header", len(reqs))
			}
		}},
		kase{"RFC 9111 4.3.3", "a 200 to a revalidation replaces the stored response", func(t *testing.T, e *env, p string) {
			var n atomic.Int64
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) {
				v := n.Add(1)
				respond(200, fmt.Sprint("v", v), "Cache-Control: max-age=0", fmt.Sprintf(`ETag: "e%d"`, v))(w, r)
			})
			e.s.get(t, p+"/x")
			if r := e.s.get(t, p+"/x"); r.body != "v2" {
				t.Fatalf("got %q, want the new response", r.body)
			}
			e.s.get(t, p+"/x")
			if reqs := e.o.requests(p + "/x"); reqs[2].Header.Get("If-None-Match") != `"e2"` {
				t.Fatalf("third revalidation sent %q, want the replacing response's ETag", reqs[2].Header.Get("If-None-Match"))
			}
		}},
		kase{"RFC 9110 13.1.3", "If-Modified-Since is answered 304 from a fresh response without Last-Modified, by its Date", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600"))
			first := e.s.get(t, p+"/x")
			if r := e.s.get(t, p+"/x", "If-Modified-Since: "+first.header.Get("Date")); r.status != http.StatusNotModified || e.o.count(p+"/x") != 1 {
				t.Fatalf("got %d, origin asked %d times", r.status, e.o.count(p+"/x"))
			}
		}},
		kase{"RFC 5861 4", "stale-if-error serves stale when the origin answers 5xx", func(t *testing.T, e *env, p string) {
			e.o.handle(p, failingAfterFirst("Cache-Control: max-age=10, stale-if-error=600", "Age: 20", `ETag: "v1"`))
			e.s.get(t, p+"/x")
			if r := e.s.get(t, p+"/x"); r.status != 200 || r.body != "good" {
				t.Fatalf("got %d %q, want the stale response", r.status, r.body)
			}
		}},
		kase{"RFC 5861 3", "stale-while-revalidate serves stale at once and revalidates in the background", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "good", "Cache-Control: max-age=10, stale-while-revalidate=600", "Age: 20", `ETag: "v1"`))
			e.s.get(t, p+"/x")
			if r := e.s.get(t, p+"/x"); r.status != 200 || r.body != "good" {
				t.Fatalf("got %d %q", r.status, r.body)
			}
			testenv.WaitFor(t, 10*time.Second, func() error {
				if n := e.o.count(p + "/x"); n < 2 {
					return fmt.Errorf("origin asked %d times, want a background revalidation", n)
				}
				return nil
			})
		}},
	)
	for _, d := range []string{"must-revalidate", "proxy-revalidate", "no-cache", "s-maxage=10"} {
		for _, fail := range []string{"503", "drop"} {
			cs = append(cs, kase{"RFC 9111 4.2.4", fmt.Sprintf("%s forbids stale on a failing origin (%s), whatever stale-if-error says", d, fail), func(t *testing.T, e *env, p string) {
				h := failingAfterFirst("Cache-Control: max-age=10, stale-if-error=600, "+d, "Age: 20", `ETag: "v1"`)
				if fail == "drop" {
					h = droppingAfterFirst(h)
				}
				e.o.handle(p, h)
				e.s.get(t, p+"/x")
				if r := e.s.get(t, p+"/x"); r.status < 500 || r.body == "good" {
					t.Fatalf("got %d %q, want the failure", r.status, r.body)
				}
			}})
		}
	}
	return cs
}

// failingAfterFirst answers "good" with hdr once, then 503.
func failingAfterFirst(hdr ...string) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			respond(200, "good", hdr...)(w, r)
			return
		}
		respond(http.StatusServiceUnavailable, "down", "Cache-Control: no-store")(w, r)
	}
}

// droppingAfterFirst is h once, then a dropped connection.
func droppingAfterFirst(h http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			h(w, r)
			return
		}
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			c.Close()
		}
	}
}

// requestCases: methods, ranges, request framing and the key.
func requestCases() []kase {
	cs := []kase{
		kase{"RFC 9110 9.1", "any method is forwarded (PROPFIND, M-SEARCH, an unknown one)", func(t *testing.T, e *env, p string) {
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Method) })
			for _, m := range []string{"PROPFIND", "M-SEARCH", "FROB"} {
				if r := e.s.do(t, m, p+"/x"); r.status != 200 || r.body != m {
					t.Fatalf("%s: %d %q", m, r.status, r.body)
				}
			}
		}},
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "FROB"} {
		cs = append(cs, kase{"RFC 9111 4.4", m + " invalidates the target URI, Location and Content-Location", func(t *testing.T, e *env, p string) {
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					w.Header().Set("Location", p+"/loc")
					w.Header().Set("Content-Location", "http://"+host+p+"/cloc")
					return
				}
				respond(200, "x", "Cache-Control: max-age=600")(w, r)
			})
			for _, path := range []string{p + "/x", p + "/loc", p + "/cloc"} {
				wantStored(t, e, path)
			}
			e.s.do(t, m, p+"/x")
			for _, path := range []string{p + "/x", p + "/loc", p + "/cloc"} {
				if r := e.s.get(t, path); r.isHit() {
					t.Fatalf("%s still served from the store after %s", path, m)
				}
			}
		}})
	}
	ranges := []struct{ rng, body, crange string }{
		{"bytes=0-3", "0123", "bytes 0-3/10"},
		{"bytes=5-", "56789", "bytes 5-9/10"},
		{"bytes=-3", "789", "bytes 7-9/10"},
	}
	cs = append(cs,
		kase{"RFC 9110 14", "single, open and suffix ranges are answered 206 from the store; unsatisfiable 416", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "0123456789", "Cache-Control: max-age=600"))
			wantStored(t, e, p+"/x")
			for _, c := range ranges {
				if r := e.s.get(t, p+"/x", "Range: "+c.rng); r.status != 206 || r.body != c.body || r.header.Get("Content-Range") != c.crange {
					t.Fatalf("%s: %d %q %q", c.rng, r.status, r.body, r.header.Get("Content-Range"))
				}
			}
			if r := e.s.get(t, p+"/x", "Range: bytes=20-"); r.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("unsatisfiable range: %d", r.status)
			}
			if n := e.o.count(p + "/x"); n != 1 {
				t.Fatalf("origin asked %d times", n)
			}
		}},
		kase{"RFC 9111 3.4", "a range on a miss is cut from the full response, fetched and stored once", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "0123456789", "Cache-Control: max-age=600"))
			if r := e.s.get(t, p+"/x", "Range: bytes=2-4"); r.status != 206 || r.body != "234" {
				t.Fatalf("range on a miss: %d %q", r.status, r.body)
			}
			if r := e.s.get(t, p+"/x"); !r.isHit() || r.body != "0123456789" || e.o.count(p+"/x") != 1 {
				t.Fatalf("full request after it: %q %s, origin asked %d times", r.body, r.cacheStatus(), e.o.count(p+"/x"))
			}
		}},
		kase{"RFC 9111 4.1", "equivalent Accept-Language spellings share one variant and the origin sees the normal form", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600", "Vary: Accept-Language"))
			e.s.get(t, p+"/x", "Accept-Language: de-DE, en;q=0.5")
			if r := e.s.get(t, p+"/x", "Accept-Language: EN;q=0.50 ,de-de"); !r.isHit() {
				t.Fatalf("second spelling: %s", r.cacheStatus())
			}
			if reqs := e.o.requests(p + "/x"); len(reqs) != 1 || reqs[0].Header.Get("Accept-Language") != "de-de,en;q=0.5" {
				t.Fatalf("origin asked %d times, sent %q", len(reqs), reqs[0].Header.Get("Accept-Language"))
			}
		}},
		kase{"RFC 3986 6.2.2", "two percent-encodings of one path are one entry", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600"))
			e.s.get(t, p+"/caf%c3%a9")
			if r := e.s.get(t, p+"/caf%C3%A9"); !r.isHit() {
				t.Fatalf("other spelling: %s", r.cacheStatus())
			}
		}},
		kase{"RFC 9112 3.2", "a malformed Host is a 400", func(t *testing.T, e *env, p string) {
			resp, _, _ := e.s.raw(t, "GET "+p+"/x HTTP/1.1\r\nHost: conf.test:evil.com\r\n\r\n")
			if resp.StatusCode != http.StatusBadRequest || e.o.count(p+"/x") != 0 {
				t.Fatalf("got %d, origin asked %d times", resp.StatusCode, e.o.count(p+"/x"))
			}
		}},
		kase{"RFC 9112 6.1", "Content-Length with Transfer-Encoding is answered and the connection closed", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "front", "Cache-Control: no-store"))
			smuggled := "GET " + p + "/smuggled HTTP/1.1\r\nHost: conf.test\r\n\r\n"
			raw := fmt.Sprintf("POST %s/front HTTP/1.1\r\nHost: conf.test\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s",
				p, 5+len(smuggled), smuggled)
			resp, body, closed := e.s.raw(t, raw)
			if resp.StatusCode != 200 || body != "front" || !closed || e.o.count(p+"/smuggled") != 0 {
				t.Fatalf("got %d %q, closed %v, smuggled request reached the origin %d times", resp.StatusCode, body, closed, e.o.count(p+"/smuggled"))
			}
		}},
		kase{"RFC 9111 4", "20 requests on a slow origin answering an unstored 503 make one origin request", func(t *testing.T, e *env, p string) {
			const n = 20
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) {
				// Answer once every other request waits on this one (or
				// after 10 s, and the count below fails).
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					if v, err := e.s.metric("cachegate_coalesced_waiting"); err == nil && v >= n-1 {
						break
					}
					time.Sleep(10 * time.Millisecond) // polling a state another process holds
				}
				respond(http.StatusServiceUnavailable, "busy", "Retry-After: 5")(w, r)
			})
			var wg sync.WaitGroup
			out := make([]res, n)
			for i := range n {
				wg.Add(1)
				go func() { defer wg.Done(); out[i] = e.s.get(t, p+"/x") }()
			}
			wg.Wait()
			for i, r := range out {
				if r.status != http.StatusServiceUnavailable || r.body != "busy" {
					t.Fatalf("request %d: %d %q", i, r.status, r.body)
				}
			}
			if c := e.o.count(p + "/x"); c != 1 {
				t.Fatalf("origin asked %d times for %d requests", c, n)
			}
		}},
	)
	return cs
}

// targetedCases: targeted cache control (RFC 9213), cachegate's own field
// first, then CDN-Cache-Control, then Cache-Control.
func targetedCases() []kase {
	return []kase{
		{"RFC 9213 2.1", "CDN-Cache-Control max-age replaces Cache-Control no-store", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store", "CDN-Cache-Control: max-age=600"))
			wantStored(t, e, p+"/x")
		}},
		{"RFC 9213 2.1", "CDN-Cache-Control no-store replaces Cache-Control max-age", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600", "CDN-Cache-Control: no-store"))
			wantNotReused(t, e, p+"/x")
		}},
		{"RFC 9213 2.1", "Cachegate-Cache-Control comes first and is never passed on", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store", "CDN-Cache-Control: no-store", "Cachegate-Cache-Control: max-age=600"))
			if r := wantStored(t, e, p+"/x"); r.header.Get("Cachegate-Cache-Control") != "" {
				t.Fatal("the gateway's own field reached the client")
			}
		}},
		{"RFC 9213 2.2", "a targeted field that is not a valid Structured Field is ignored", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store", "CDN-Cache-Control: max-age=abc"))
			wantNotReused(t, e, p+"/x")
		}},
		{"RFC 9213 2.2", "a targeted max-age past 2^31 is honoured", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store", "CDN-Cache-Control: max-age=99999999999"))
			wantStored(t, e, p+"/x")
		}},
	}
}

// departureCases check the deliberate departures from the RFCs that
// gateway/doc.go lists.
func departureCases() []kase {
	return []kase{
		{"departure", "no heuristic freshness by default (Last-Modified only: revalidated on every use)", func(t *testing.T, e *env, p string) {
			e.o.handle(p, revalidating("body", "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT"))
			e.s.get(t, p+"/x")
			if r := e.s.get(t, p+"/x"); r.isHit() || e.o.count(p+"/x") != 2 {
				t.Fatalf("reused without revalidation: %s", r.cacheStatus())
			}
		}},
		{"departure", "a response with Set-Cookie is never stored", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: public, max-age=600", "Set-Cookie: a=b"))
			wantNotReused(t, e, p+"/x")
		}},
		{"departure", "a request with Authorization is always private, even for a public response", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: public, max-age=600"))
			if r := e.s.get(t, p+"/x", "Authorization: Bearer t"); !strings.Contains(r.header.Get("Cache-Control"), "private") {
				t.Fatalf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			wantNotReused(t, e, p+"/y", "Authorization: Bearer t")
		}},
	}
}
