package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// pattern is size bytes that differ along the body, so that a body put
// together in the wrong order or with a piece missing does not compare
// equal.
func pattern(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i/4096%26)
	}
	return b
}

// heldOrigin answers body, storable with an ETag, its length
// unannounced: the first request gets the first sent bytes, then the rest
// once gate opens (or its client leaves); later requests get it at once.
func heldOrigin(t *testing.T, body []byte, sent int, gate <-chan struct{}) *origin {
	var calls atomic.Int64
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		storableHeader(w.Header(), true, true, len(body))
		w.Write(body[:sent])
		w.(http.Flusher).Flush()
		if calls.Add(1) == 1 {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Write(body[sent:])
	})
}

// TestUnknownLengthStopsKeepingPastALimit: a body of unknown length that
// outgrows MaxObjectSize or the fill budget stops being kept the moment it
// does, its reservation freed while it still streams, and its client gets
// it whole; it is not stored, and requests for it stop waiting on it.
func TestUnknownLengthStopsKeepingPastALimit(t *testing.T) {
	const size = 256 << 10
	for _, tc := range []struct {
		name string
		cfg  func(*gateway.Config)
	}{
		{"max_object_size", func(c *gateway.Config) { c.MaxObjectSize = 64 << 10 }},
		{"fill budget", func(c *gateway.Config) { c.FillBufferBytes = 64 << 10 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := pattern(size)
			gate := make(chan struct{})
			release := releaser(t, gate)
			// Three quarters, past either limit, then (the first time)
			// nothing until the gate opens.
			o := heldOrigin(t, want, size*3/4, gate)
			g := startGateway(t, o, tc.cfg)
			resp := g.open(t, "/big")
			if cs := resp.Header.Get("Cache-Status"); strings.Contains(cs, "stored") || !strings.Contains(cs, "detail=unknown-length") {
				t.Fatalf("Cache-Status %q, want detail=unknown-length and no stored", cs)
			}
			// What the client has read, the gateway has read past the
			// limit: it keeps nothing more, and holds nothing, while the
			// origin has yet to send the rest.
			first := make([]byte, size/2)
			if _, err := io.ReadFull(resp.Body, first); err != nil {
				t.Fatal(err)
			}
			waitFillsFreed(t, g)
			// Not to be stored: requests for the URL no longer wait on
			// the fill, each fetches its own at once, while the fill's
			// origin still holds the rest of its body.
			const waiters = 2
			for range waiters {
				r := g.get(t, "/big")
				wantStatus(t, r, "fwd=", "detail=")
				wantNoStatus(t, r, "collapsed")
				if r.body != string(want) {
					t.Fatalf("a request during the fill got %d bytes, not the origin's %d", len(r.body), size)
				}
			}
			release()
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if body := append(first, rest...); !bytes.Equal(body, want) {
				t.Fatalf("client got %d bytes, not the origin's %d", len(body), size)
			}
			waitFillsFreed(t, g)
			r := g.get(t, "/big")
			wantStatus(t, r, "fwd=", "detail=unknown-length")
			if r.body != string(want) || o.requests.Load() != 2+waiters {
				t.Fatalf("next request: %d bytes, origin asked %d times; want the whole body, from the origin again", len(r.body), o.requests.Load())
			}
			waitFillsFreed(t, g)
		})
	}
}

// TestBudgetSpentBeforeTheHeader: a fill of unknown length reserves its
// read-ahead before its header goes out, so a budget already spent is
// said there (detail=buffer-budget) and the response, streamed whole, is
// not stored; the fill holding the budget, longer than the read-ahead and
// so streamed, is stored.
func TestBudgetSpentBeforeTheHeader(t *testing.T) {
	const size, first = 48 << 10, 40 << 10 // past the 32 KiB read-ahead
	gate := make(chan struct{})
	release := releaser(t, gate)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		storableHeader(w.Header(), false, true, size)
		if r.URL.Path != "/holder" {
			w.Write(pattern(size))
			return
		}
		w.Write(pattern(size)[:first])
		w.(http.Flusher).Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Write(pattern(size)[first:])
	})
	g := startGateway(t, o, func(c *gateway.Config) { c.FillBufferBytes = 64 << 10 })
	holder := g.open(t, "/holder")
	wantStatus(t, result{header: holder.Header}, "detail=unknown-length")
	// The holder keeps its first 40 KiB: its reservation has grown to the
	// whole budget (32 KiB, then doubled).
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := g.FillBufferInUse(); n != 64<<10 {
			return fmt.Errorf("%d bytes held for fills, want the budget's 64 KiB", n)
		}
		return nil
	})
	for i := 1; i <= 2; i++ {
		r := g.get(t, "/late")
		wantStatus(t, r, "detail=buffer-budget")
		if r.body != string(pattern(size)) {
			t.Fatalf("request %d: %d bytes, not the origin's", i, len(r.body))
		}
	}
	release()
	if b, err := io.ReadAll(holder.Body); err != nil || !bytes.Equal(b, pattern(size)) {
		t.Fatalf("the holder got %d bytes (%v)", len(b), err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if r := g.get(t, "/holder"); !strings.Contains(r.cacheStatus(), "hit") || r.header.Get("Content-Length") != strconv.Itoa(size) {
			return fmt.Errorf("the holder's URL: %q, Content-Length %q", r.cacheStatus(), r.header.Get("Content-Length"))
		}
		return nil
	})
	if n := o.paths("/late"); n != 2 {
		t.Fatalf("origin asked for /late %d times, want 2 (not stored)", n)
	}
	waitFillsFreed(t, g)
}

// TestOriginCutMidBodyStoresNothing: an origin that goes away mid-body
// leaves its client with a truncated response (a chunked one without its
// last chunk, an announced one short), and nothing stored: the next
// request goes to the origin and gets the whole body.
func TestOriginCutMidBodyStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		chunked, etag bool
		size          int
	}{
		{"chunked", true, true, 256 << 10},
		{"chunked, no validator", true, false, 256 << 10},
		{"announced length", false, true, 256 << 10},
		// Cut within the read-ahead, before any byte went to the client:
		// the origin's failure is the client's (502), never a short body
		// taken for a whole one.
		{"chunked, cut within the read-ahead", true, true, 20 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			want := pattern(size)
			var calls atomic.Int64
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), tc.etag, tc.chunked, size)
				if calls.Add(1) == 1 {
					w.Write(want[:size/2])
					w.(http.Flusher).Flush()
					// The connection closes at once, the body unfinished.
					panic(http.ErrAbortHandler)
				}
				w.Write(want)
			})
			g := startGateway(t, o, nil)
			resp := g.open(t, "/cut")
			if size <= 32<<10 {
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d (%d bytes, Cache-Status %q), want 502", resp.StatusCode, len(b), resp.Header.Get("Cache-Status"))
				}
			} else if tc.chunked && resp.ContentLength != -1 {
				t.Fatalf("length %d, want chunked as the origin sent it", resp.ContentLength)
			}
			if size > 32<<10 {
				b, err := io.ReadAll(resp.Body)
				if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) >= size {
					t.Fatalf("client got %d bytes and %v, want a truncated body (unexpected EOF)", len(b), err)
				}
				if !bytes.Equal(b, want[:len(b)]) {
					t.Fatal("the truncated body is not the origin's beginning")
				}
			}
			waitFillsFreed(t, g)
			r := g.get(t, "/cut")
			wantStatus(t, r, "fwd=")
			if r.body != string(want) || o.requests.Load() != 2 {
				t.Fatalf("next request: %d bytes, origin asked %d times; want the whole body, from the origin", len(r.body), o.requests.Load())
			}
			if r := g.get(t, "/cut"); !strings.Contains(r.cacheStatus(), "hit") || r.body != string(want) {
				t.Fatalf("third request: %q, %d bytes; want a hit on the whole body", r.cacheStatus(), len(r.body))
			}
		})
	}
}

// TestReadFirstMissesWithinTheBudget: a miss whose client wants a range or
// no body (HEAD) is still read before answering, for the stored body to
// answer it: within the limits it is stored and answered from it; past
// MaxObjectSize (known only while reading a chunked body) its client gets
// what it asked of the origin's response, unstored, and the budget's
// accounting returns to zero.
func TestReadFirstMissesWithinTheBudget(t *testing.T) {
	const size = 256 << 10
	want := pattern(size)
	for _, tc := range []struct {
		name   string
		method string
		hdr    []string
		max    int64
		// status and body the client gets, and whether it was stored.
		status int
		body   string
		stored bool
	}{
		{"range, stored", http.MethodGet, []string{"Range: bytes=5000-5099"}, 0, http.StatusPartialContent, string(want[5000:5100]), true},
		{"head, stored", http.MethodHead, nil, 0, http.StatusOK, "", true},
		// An unknown length cannot be cut into a range as it passes:
		// the whole response, as the origin sent it.
		{"range, too large", http.MethodGet, []string{"Range: bytes=5000-5099"}, 64 << 10, http.StatusOK, string(want), false},
		{"head, too large", http.MethodHead, nil, 64 << 10, http.StatusOK, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), true, true, size)
				w.Write(want)
			})
			g := startGateway(t, o, func(c *gateway.Config) { c.MaxObjectSize = tc.max })
			r := g.do(t, tc.method, "acme", "/r", tc.hdr...)
			if r.status != tc.status || r.body != tc.body {
				t.Fatalf("%d with %d bytes, want %d with %d", r.status, len(r.body), tc.status, len(tc.body))
			}
			if tc.stored {
				wantStatus(t, r, "stored")
			} else {
				wantStatus(t, r, "detail=too-large")
			}
			waitFillsFreed(t, g)
			next := g.get(t, "/r")
			if hit := strings.Contains(next.cacheStatus(), "hit"); hit != tc.stored || next.body != string(want) {
				t.Fatalf("next GET: %q with %d bytes; want a hit %t on the whole body", next.cacheStatus(), len(next.body), tc.stored)
			}
		})
	}
}

// TestStreamedFillOriginWait: OriginTimeout bounds the time a streamed
// fill waits on the origin for its body, as when the body was read before
// answering: an origin that stalls mid-body is cut off there (its client
// gets a truncated response, the requests waiting on the fill a 504, and
// nothing is stored), while a client that reads slowly for longer than
// the timeout gets its whole body, stored.
func TestStreamedFillOriginWait(t *testing.T) {
	const timeout = 300 * time.Millisecond
	t.Run("stalled origin", func(t *testing.T) {
		const size = 64 << 10
		want := pattern(size)
		gate := make(chan struct{})
		releaser(t, gate)
		o := heldOrigin(t, want, size/2, gate)
		g := startGateway(t, o, func(c *gateway.Config) { c.OriginTimeout = timeout })
		resp := g.open(t, "/stall")
		const waiters = 2
		waited := startWaiters(t, g, "/stall", waiters)
		b, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(b) >= size {
			t.Fatalf("client got %d bytes and %v, want a truncated body (unexpected EOF)", len(b), err)
		}
		for range waiters {
			r := <-waited
			if r.status != http.StatusGatewayTimeout {
				t.Fatalf("a waiter got %d (%q), want 504", r.status, r.cacheStatus())
			}
			wantStatus(t, r, "collapsed", "detail=origin-timeout")
		}
		waitFillsFreed(t, g)
		if r := g.get(t, "/stall"); strings.Contains(r.cacheStatus(), "hit") || r.body != string(want) {
			t.Fatalf("next request: %q, %d bytes; want the whole body from the origin", r.cacheStatus(), len(r.body))
		}
	})
	t.Run("slow client", func(t *testing.T) {
		// More than the loopback sockets hold, so that the gateway waits
		// on the client while the timeout passes.
		const size = 24 << 20
		want := pattern(size)
		o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
			storableHeader(w.Header(), true, true, size)
			w.Write(want)
		})
		g := startGateway(t, o, func(c *gateway.Config) {
			c.OriginTimeout = timeout
			c.MaxObjectSize = 32 << 20
		})
		resp := g.open(t, "/slow")
		// A client that reads nothing for three timeouts: what is timed
		// here is the pause, not a wait for some state.
		time.Sleep(3 * timeout)
		if g.FillBufferInUse() == 0 {
			t.Fatal("the fill ended while its client read nothing: the body fits the sockets, and the test tests nothing")
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("client got %d bytes (%v), want the whole %d", len(b), err, size)
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if r := g.get(t, "/slow"); !strings.Contains(r.cacheStatus(), "hit") || len(r.body) != size {
				return fmt.Errorf("next request: %q, %d bytes", r.cacheStatus(), len(r.body))
			}
			return nil
		})
	})
}

// TestShortUnknownLengthStoredWithItsLength: a body of unknown length that
// ends within the read-ahead (most chunked pages) is known whole before
// its header: the miss says "stored" and carries its Content-Length, like
// one whose length was announced; a longer one streams and says
// detail=unknown-length. Either is a hit next.
func TestShortUnknownLengthStoredWithItsLength(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		size := 5 << 10
		if r.URL.Path == "/long" {
			size = 1 << 20
		}
		storableHeader(w.Header(), false, true, size)
		w.Write(pattern(size)[:size/2])
		w.(http.Flusher).Flush() // two chunks at least
		w.Write(pattern(size)[size/2:])
	})
	g := startGateway(t, o, nil)
	for _, tc := range []struct {
		path, status, length string
		size                 int
	}{
		{"/short", "stored", "5120", 5 << 10},
		{"/long", "detail=unknown-length", "", 1 << 20},
	} {
		r := g.get(t, tc.path)
		wantStatus(t, r, "fwd=uri-miss", tc.status)
		if got := r.header.Get("Content-Length"); got != tc.length || r.body != string(pattern(tc.size)) {
			t.Fatalf("%s: Content-Length %q (want %q), %d bytes", tc.path, got, tc.length, len(r.body))
		}
		testenv.WaitFor(t, 5*time.Second, func() error {
			if r := g.get(t, tc.path); !strings.Contains(r.cacheStatus(), "hit") || r.body != string(pattern(tc.size)) {
				return fmt.Errorf("%s: %q", tc.path, r.cacheStatus())
			}
			return nil
		})
	}
	waitFillsFreed(t, g)
}
