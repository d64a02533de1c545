package gateway_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// Ranges are answered from the stored complete response: a miss fetches
// and stores the whole response once (the origin never sees Range), and
// every range after that, single, open, suffix, several or unsatisfiable,
// is cut from the store.
func TestRangesAreServedFromTheStore(t *testing.T) {
	body := strings.Repeat("0123456789", 100) // 1000 bytes
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"v1"`)
		// The origin honours Range itself: a cache that forwarded it would
		// get a 206 it cannot store.
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	})
	g := startGateway(t, o, nil)

	first := g.do(t, http.MethodGet, "acme", "/video", "Range: bytes=0-9")
	if first.status != http.StatusPartialContent || first.body != body[:10] ||
		first.header.Get("Content-Range") != "bytes 0-9/1000" {
		t.Fatalf("miss with Range: %d %q %q", first.status, first.header.Get("Content-Range"), first.body)
	}
	wantStatus(t, first, "stored")
	if r := o.last(); r.Header.Get("Range") != "" || r.Header.Get("If-Range") != "" {
		t.Fatalf("origin was sent Range %q If-Range %q", r.Header.Get("Range"), r.Header.Get("If-Range"))
	}

	tests := []struct {
		rng, ifRange string
		status       int
		contentRange string
		body         string
	}{
		{"bytes=10-19", "", 206, "bytes 10-19/1000", body[10:20]},
		{"bytes=990-", "", 206, "bytes 990-999/1000", body[990:]},
		{"bytes=-5", "", 206, "bytes 995-999/1000", body[995:]},
		{"bytes=500-2000", "", 206, "bytes 500-999/1000", body[500:]},
		{"bytes=1000-", "", 416, "bytes */1000", ""},
		{"bytes=-0", "", 416, "bytes */1000", ""},
		{"bytes=0-4", `"v1"`, 206, "bytes 0-4/1000", body[:5]},
		{"bytes=0-4", `"v0"`, 200, "", body},
		{"pages=1", "", 200, "", body},
	}
	for _, tc := range tests {
		t.Run(tc.rng+" "+tc.ifRange, func(t *testing.T) {
			hdr := []string{"Range: " + tc.rng}
			if tc.ifRange != "" {
				hdr = append(hdr, "If-Range: "+tc.ifRange)
			}
			r := g.do(t, http.MethodGet, "acme", "/video", hdr...)
			if r.status != tc.status || r.header.Get("Content-Range") != tc.contentRange {
				t.Fatalf("%d %q, want %d %q", r.status, r.header.Get("Content-Range"), tc.status, tc.contentRange)
			}
			if tc.status != 416 && r.body != tc.body {
				t.Fatalf("body of %d bytes, want %d", len(r.body), len(tc.body))
			}
			wantStatus(t, r, "hit")
		})
	}
	multi := g.do(t, http.MethodGet, "acme", "/video", "Range: bytes=0-1,998-")
	if multi.status != 206 || !strings.HasPrefix(multi.header.Get("Content-Type"), "multipart/byteranges") ||
		!strings.Contains(multi.body, "Content-Range: bytes 998-999/1000") {
		t.Fatalf("several ranges: %d %v", multi.status, multi.header)
	}
	if n := o.requests.Load(); n != 1 {
		t.Fatalf("origin served %d requests, want the one fill", n)
	}
}

// Concurrent range requests for a URL not yet cached are all answered from
// the one full response that is fetched and stored.
func TestConcurrentRangeMissesFetchOnce(t *testing.T) {
	body := strings.Repeat("x", 4096)
	release := make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "max-age=300")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	})
	g := startGateway(t, o, nil)
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.do(t, http.MethodGet, "acme", "/big", "Range: bytes=0-99")
		}()
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if o.requests.Load() == 0 {
			return errors.New("no request reached the origin")
		}
		return nil
	})
	close(release)
	wg.Wait()
	for _, r := range results {
		if r.status != 206 || len(r.body) != 100 {
			t.Fatalf("%d, %d bytes", r.status, len(r.body))
		}
	}
	wantStatus(t, g.do(t, http.MethodGet, "acme", "/big"), "hit")
	if o.requests.Load() != 1 {
		t.Fatalf("origin served %d requests", o.requests.Load())
	}
}

// A response too large to store is fetched without Range like any other
// miss; its single range is cut from the stream, so a large file served
// through the gateway keeps answering ranges (seeking in a video).
func TestRangeOfAnUnstoredResponseIsCutFromTheStream(t *testing.T) {
	body := strings.Repeat("0123456789", 1000) // 10,000 bytes
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body))
	})
	g := startGateway(t, o, func(c *gateway.Config) { c.MaxObjectSize = 1000 })
	tests := []struct {
		rng, contentRange string
		status            int
		body              string
	}{
		{"bytes=9990-", "bytes 9990-9999/10000", 206, body[9990:]},
		{"bytes=-3", "bytes 9997-9999/10000", 206, body[9997:]},
		{"bytes=100-109", "bytes 100-109/10000", 206, body[100:110]},
		{"bytes=0-1,5-6", "", 200, body},
		{"bytes=20000-", "", 200, body},
	}
	for _, tc := range tests {
		r := g.do(t, http.MethodGet, "acme", "/movie", "Range: "+tc.rng)
		if r.status != tc.status || r.header.Get("Content-Range") != tc.contentRange || r.body != tc.body {
			t.Fatalf("%s: %d %q, %d bytes; want %d %q, %d bytes", tc.rng, r.status, r.header.Get("Content-Range"), len(r.body), tc.status, tc.contentRange, len(tc.body))
		}
		wantNoStatus(t, r, "stored")
		if got := o.last().Header.Get("Range"); got != "" {
			t.Fatalf("origin was sent Range %q", got)
		}
	}
}
