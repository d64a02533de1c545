package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// versioned serves "v1", "v2", ... one per origin request, with cc.
func versioned(cc string, extra ...string) (http.HandlerFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		v := n.Add(1)
		w.Header()["Date"] = nil // the test shifts the gateway's clock, not the origin's
		w.Header().Set("Cache-Control", cc)
		for _, h := range extra {
			k, val, _ := strings.Cut(h, ":")
			w.Header().Set(k, strings.TrimSpace(val))
		}
		io.WriteString(w, fmt.Sprint("v", v))
	}, &n
}

func TestStaleWhileRevalidate(t *testing.T) {
	h, _ := versioned("max-age=10, stale-while-revalidate=60")
	o := startOrigin(t, h)
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	r := g.get(t, "/")
	if r.body != "v1" {
		t.Fatalf("stale hit served %q", r.body)
	}
	wantStatus(t, r, "hit; detail=l1", "ttl=-5")
	// One background revalidation refreshes the entry.
	testenv.WaitFor(t, 5*time.Second, func() error {
		if r := g.get(t, "/"); r.body != "v2" {
			return fmt.Errorf("still %q (%s)", r.body, r.cacheStatus())
		}
		return nil
	})
	if n := o.requests.Load(); n != 2 {
		t.Fatalf("origin saw %d requests, want 2", n)
	}
}

func TestStaleWhileRevalidateNotWithMustRevalidate(t *testing.T) {
	h, _ := versioned("max-age=10, stale-while-revalidate=60, must-revalidate")
	o := startOrigin(t, h)
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	r := g.get(t, "/")
	if r.body != "v2" {
		t.Fatalf("must-revalidate entry served stale: %q", r.body)
	}
	wantStatus(t, r, "fwd=stale")
}

func TestStaleIfError(t *testing.T) {
	var failing atomic.Bool
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "down")
			return
		}
		cacheable("max-age=10, stale-if-error=60", "good")(w, r)
	})
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	failing.Store(true)
	r := g.get(t, "/")
	if r.status != 200 || r.body != "good" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	wantStatus(t, r, "fwd=stale", "fwd-status=503", "detail=stale-if-error")
	// Past the stale-if-error window the error goes through.
	g.advance(time.Minute)
	if r := g.get(t, "/"); r.status != 503 {
		t.Fatalf("got %d after the window", r.status)
	}
}

func TestStaleIfErrorOnUnreachableOrigin(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=10, stale-if-error=60", "good"))
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	o.srv.Close()
	r := g.get(t, "/")
	if r.status != 200 || r.body != "good" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	wantStatus(t, r, "fwd=stale", "detail=stale-if-error")
	if r := g.get(t, "/never-cached"); r.status != http.StatusBadGateway || !strings.Contains(r.body, "origin") {
		t.Fatalf("unreachable origin: %d %q", r.status, r.body)
	}
}

func TestRevalidationWithStoredValidators(t *testing.T) {
	var n atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			if r.Header.Get("If-None-Match") != `"e1"` {
				t.Errorf("revalidation sent If-None-Match %q", r.Header.Get("If-None-Match"))
			}
			w.Header().Set("Cache-Control", "max-age=100")
			w.Header().Set("ETag", `"e1"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		cacheable("max-age=10", "body", `ETag: "e1"`)(w, r)
	})
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	r := g.get(t, "/", `If-None-Match: "other"`)
	if r.status != 200 || r.body != "body" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	// (ttl is 100 minus the apparent age the shifted test clock adds)
	wantStatus(t, r, "fwd=stale", "fwd-status=304", "stored", "ttl=")
	if cc := r.header.Get("Cache-Control"); cc != "max-age=100" {
		t.Fatalf("refreshed Cache-Control %q", cc)
	}
	wantStatus(t, g.get(t, "/"), "hit; detail=l1")
	// The client's own validator is answered 304 after a revalidation too.
	g.advance(200 * time.Second)
	if r := g.get(t, "/", `If-None-Match: "e1"`); r.status != 304 {
		t.Fatalf("got %d", r.status)
	}
}

func TestNoCacheResponseAlwaysRevalidates(t *testing.T) {
	var n atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "no-cache, max-age=600")
		w.Header().Set("ETag", `"a"`)
		if r.Header.Get("If-None-Match") == `"a"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "x")
	})
	g := startGateway(t, o, nil)
	g.get(t, "/")
	r := g.get(t, "/")
	wantStatus(t, r, "fwd=stale", "fwd-status=304")
	if r.body != "x" || n.Load() != 2 {
		t.Fatalf("%q after %d origin requests", r.body, n.Load())
	}
}

func TestClientNoCacheRevalidates(t *testing.T) {
	for _, hdr := range []string{"Cache-Control: no-cache", "Cache-Control: max-age=0", "Pragma: no-cache"} {
		t.Run(hdr, func(t *testing.T) {
			h, _ := versioned("max-age=60")
			o := startOrigin(t, h)
			g := startGateway(t, o, nil)
			g.get(t, "/")
			g.advance(time.Second)
			r := g.get(t, "/", hdr)
			wantStatus(t, r, "fwd=request")
			if r.body != "v2" {
				t.Fatalf("got %q", r.body)
			}
		})
	}
}

func TestOnlyIfCached(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	g := startGateway(t, o, nil)
	if r := g.get(t, "/", "Cache-Control: only-if-cached"); r.status != 504 || o.requests.Load() != 0 {
		t.Fatalf("got %d, origin %d", r.status, o.requests.Load())
	}
}

func TestOriginTimeout(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	g := startGateway(t, o, func(c *gateway.Config) { c.OriginTimeout = 100 * time.Millisecond })
	r := g.get(t, "/slow")
	if r.status != http.StatusGatewayTimeout || !strings.Contains(r.body, "did not answer within 100ms") {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	wantStatus(t, r, "detail=origin-timeout")
}

func TestTimeoutDoesNotCutAStream(t *testing.T) {
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "start ")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "end")
	})
	g := startGateway(t, o, func(c *gateway.Config) { c.OriginTimeout = 50 * time.Millisecond })
	go func() {
		// Past the timeout: the header came in time, the body may take long.
		time.Sleep(200 * time.Millisecond)
		close(release)
	}()
	if r := g.get(t, "/stream"); r.body != "start end" {
		t.Fatalf("got %q", r.body)
	}
}

func TestMaxObjectSizeStreamsUncached(t *testing.T) {
	big := strings.Repeat("x", 4096)
	for _, chunked := range []bool{false, true} {
		o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=60")
			if chunked {
				for i := 0; i < 4; i++ {
					io.WriteString(w, big[:1024])
					w.(http.Flusher).Flush()
				}
				return
			}
			io.WriteString(w, big)
		})
		g := startGateway(t, o, func(c *gateway.Config) { c.MaxObjectSize = 1024 })
		for i := 0; i < 2; i++ {
			r := g.get(t, "/big")
			if r.body != big {
				t.Fatalf("chunked=%v: body of %d bytes", chunked, len(r.body))
			}
			wantNoStatus(t, r, "stored")
		}
		if o.requests.Load() != 2 {
			t.Fatalf("chunked=%v: origin saw %d", chunked, o.requests.Load())
		}
	}
}

func TestRequestHeaderTooLarge(t *testing.T) {
	o := startOrigin(t, cacheable("max-age=60", "x"))
	g := startGateway(t, o, func(c *gateway.Config) { c.MaxHeaderBytes = 512 })
	r := g.get(t, "/", "X-Big: "+strings.Repeat("a", 600))
	if r.status != http.StatusRequestHeaderFieldsTooLarge || r.cacheStatus() == "" || o.requests.Load() != 0 {
		t.Fatalf("got %d %q, origin %d", r.status, r.cacheStatus(), o.requests.Load())
	}
}

func TestEveryResponseHasCacheStatus(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	g := startGateway(t, o, nil)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE"} {
		for _, p := range []string{"/", "/a/b/c", "/x?y=z"} {
			r := g.do(t, m, "acme", p)
			if r.status != http.StatusTeapot {
				t.Fatalf("%s %s: status %d (the origin answers 418)", m, p, r.status)
			}
			wantStatus(t, r)
		}
	}
}
