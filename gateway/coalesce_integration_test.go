package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// waitWaiting waits until n requests of g wait for another's fetch.
func waitWaiting(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if w := gateway.Waiting(g); w < n {
			return errorfT("%d of %d requests waiting", w, n)
		}
		return nil
	})
}

// leaderThenWaiters sends the leader's request, waits until the origin
// holds it, sends n plain requests for the same path, waits until they all
// wait on the leader, then lets the origin answer.
func leaderThenWaiters(t *testing.T, g *gw, entered <-chan struct{}, release chan struct{}, n int, path string, leader ...string) (result, []result) {
	t.Helper()
	var lead result
	out := make([]result, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lead = g.get(t, path, leader...)
	}()
	<-entered
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.get(t, path)
		}()
	}
	waitWaiting(t, g.Gateway, n)
	close(release)
	wg.Wait()
	return lead, out
}

// holdingOrigin is a real origin that holds its first request until
// release, answering ranges and preconditions as net/http's file server
// does (206, 412), public for a minute.
func holdingOrigin(t *testing.T) (*origin, chan struct{}, chan struct{}) {
	entered, release := make(chan struct{}, 64), make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader([]byte("0123456789")))
	})
	return o, entered, release
}

// A leader whose answer is its own (a range, a failed precondition) does
// not send the plain requests that waited on it to the origin one by one:
// they coalesce again, behind one fetch.
func TestOwnAnswerLeaderKeepsWaitersCoalesced(t *testing.T) {
	for _, c := range []struct {
		name, header, wantBody string
		wantStatus             int
		// fetches is what the origin sees: a range leader fetches the
		// whole response (the cache cuts the range from it), which its
		// waiters share; a failed precondition is the leader's alone.
		fetches int64
	}{
		{"range", "Range: bytes=0-3", "0123", http.StatusPartialContent, 1},
		{"if-match", `If-Match: "other"`, "", http.StatusPreconditionFailed, 2},
		{"if-unmodified-since", "If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT", "", http.StatusPreconditionFailed, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			o, entered, release := holdingOrigin(t)
			g := startGateway(t, o, nil)
			const n = 12
			lead, res := leaderThenWaiters(t, g, entered, release, n, "/doc", c.header)
			if lead.status != c.wantStatus || (c.wantBody != "" && lead.body != c.wantBody) {
				t.Fatalf("leader got %d %q", lead.status, lead.body)
			}
			collapsed := 0
			for _, r := range res {
				if r.status != 200 || r.body != "0123456789" {
					t.Fatalf("waiter got %d %q", r.status, r.body)
				}
				if strings.Contains(r.cacheStatus(), "collapsed") {
					collapsed++
				}
			}
			if got := o.requests.Load(); got != c.fetches || collapsed < n-1 {
				t.Fatalf("origin saw %d requests (want %d), %d of %d waiters collapsed", got, c.fetches, collapsed, n)
			}
		})
	}
}

// Twenty requests on a hanging origin: one origin request, and every
// waiter gets the leader's timeout when it happens, not a fetch of its own.
func TestHangingOriginFailsWaitersAtOnce(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	const timeout = 2 * time.Second
	g := startGateway(t, o, func(c *gateway.Config) { c.OriginTimeout = timeout })
	const n = 20
	res := make([]result, n)
	took := make([]time.Duration, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = g.get(t, "/hang")
			took[i] = time.Since(start)
		}()
	}
	// Every waiter must have joined before the leader's timeout fires.
	waitWaiting(t, g.Gateway, n-1)
	if time.Since(start) >= timeout {
		t.Fatal("the waiters joined after the leader's timeout: the test proves nothing")
	}
	wg.Wait()
	collapsed := 0
	for i, r := range res {
		if r.status != http.StatusGatewayTimeout || !strings.Contains(r.cacheStatus(), "detail=origin-timeout") {
			t.Fatalf("request %d got %d %q", i, r.status, r.cacheStatus())
		}
		if took[i] > timeout+timeout/2 {
			t.Fatalf("request %d took %v; the origin timeout is %v", i, took[i], timeout)
		}
		if strings.Contains(r.cacheStatus(), "collapsed") {
			collapsed++
		}
	}
	if got := o.requests.Load(); got != 1 || collapsed != n-1 {
		t.Fatalf("origin saw %d requests, %d of %d collapsed; want 1 and %d", got, collapsed, n, n-1)
	}
}

// An origin that drops the connection: the waiters get the 502 at once.
func TestFailedFetchFailsWaiters(t *testing.T) {
	entered, release := make(chan struct{}, 64), make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	g := startGateway(t, o, nil)
	const n = 10
	lead, res := leaderThenWaiters(t, g, entered, release, n, "/drop")
	for _, r := range append(res, lead) {
		if r.status != http.StatusBadGateway || !strings.Contains(r.cacheStatus(), "detail=origin-error") {
			t.Fatalf("got %d %q", r.status, r.cacheStatus())
		}
	}
	if got := o.requests.Load(); got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
}

// Where stale-if-error allows, the waiters of a fetch that timed out get
// the stale entry, like its leader.
func TestFailedFetchServesWaitersStale(t *testing.T) {
	var failing atomic.Bool
	entered := make(chan struct{}, 64)
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if !failing.Load() {
			cacheable("max-age=10, stale-if-error=60", "good")(w, r)
			return
		}
		entered <- struct{}{}
		<-r.Context().Done()
	})
	g := startGateway(t, o, func(c *gateway.Config) { c.OriginTimeout = 2 * time.Second })
	g.get(t, "/")
	g.advance(15 * time.Second)
	failing.Store(true)
	before := o.requests.Load()
	const n = 6
	lead, res := leaderThenWaiters(t, g, entered, make(chan struct{}), n, "/")
	for _, r := range append(res, lead) {
		if r.status != 200 || r.body != "good" || !strings.Contains(r.cacheStatus(), "detail=stale-if-error") {
			t.Fatalf("got %d %q %q", r.status, r.body, r.cacheStatus())
		}
	}
	if got := o.requests.Load() - before; got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
}

// A response that is not shareable is never handed to waiters, also after
// a range leader: each waiter gets its own (PITFALLS 4).
func TestPrivateAnswerAfterRangeLeaderNotShared(t *testing.T) {
	entered, release := make(chan struct{}, 64), make(chan struct{})
	var next atomic.Int64
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Set-Cookie", "user="+string(rune('a'+next.Add(1))))
		io.WriteString(w, "mine")
	})
	g := startGateway(t, o, nil)
	const n = 5
	_, res := leaderThenWaiters(t, g, entered, release, n, "/me", "Range: bytes=0-1")
	cookies := map[string]bool{}
	for _, r := range res {
		cookies[r.header.Get("Set-Cookie")] = true
		wantNoStatus(t, r, "collapsed")
	}
	if len(cookies) != n {
		t.Fatalf("%d distinct cookies among %d waiters", len(cookies), n)
	}
}

// An origin that answers a 5xx the gateway does not store, slowly: the
// requests that joined during that fetch get the same answer when it
// comes, not a fetch each (20 requests, one origin request).
func TestUncacheable5xxAnswersWaitersAtOnce(t *testing.T) {
	for _, c := range []struct{ name, cc string }{
		{"no freshness", ""},
		{"no-store", "no-store"},
		{"max-age=0 without validator", "max-age=0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			entered, release := make(chan struct{}, 64), make(chan struct{})
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
				if c.cc != "" {
					w.Header().Set("Cache-Control", c.cc)
				}
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "down for maintenance")
			})
			g := startGateway(t, o, nil)
			const n = 19
			lead, res := leaderThenWaiters(t, g, entered, release, n, "/busy")
			for i, r := range append(res, lead) {
				if r.status != http.StatusServiceUnavailable || r.body != "down for maintenance" || r.header.Get("Retry-After") != "5" {
					t.Fatalf("request %d got %d %q Retry-After %q", i, r.status, r.body, r.header.Get("Retry-After"))
				}
				if i < n && (!strings.Contains(r.cacheStatus(), "collapsed") || !strings.Contains(r.cacheStatus(), "fwd-status=503")) {
					t.Fatalf("waiter %d: Cache-Status %q", i, r.cacheStatus())
				}
			}
			if got := o.requests.Load(); got != 1 {
				t.Fatalf("origin saw %d requests for %d clients, want 1", got, n+1)
			}
		})
	}
}

// A 5xx that is someone's own (Set-Cookie, private) is not handed to the
// waiters: they get the status with the gateway's body, still without
// asking the origin again.
func TestOwn5xxGivesWaitersTheStatusOnly(t *testing.T) {
	for _, c := range []struct{ name, header, value string }{
		{"set-cookie", "Set-Cookie", "session=leader"},
		{"private", "Cache-Control", "private"},
	} {
		t.Run(c.name, func(t *testing.T) {
			entered, release := make(chan struct{}, 64), make(chan struct{})
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
				w.Header().Set(c.header, c.value)
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "the leader's own error page")
			})
			g := startGateway(t, o, nil)
			const n = 8
			_, res := leaderThenWaiters(t, g, entered, release, n, "/mine")
			for i, r := range res {
				if r.status != http.StatusInternalServerError || strings.Contains(r.body, "leader") ||
					r.header.Get("Set-Cookie") != "" || !strings.Contains(r.cacheStatus(), "collapsed") {
					t.Fatalf("waiter %d got %d %q Set-Cookie %q Cache-Status %q", i, r.status, r.body, r.header.Get("Set-Cookie"), r.cacheStatus())
				}
			}
			if got := o.requests.Load(); got != 1 {
				t.Fatalf("origin saw %d requests, want 1", got)
			}
		})
	}
}

// Where stale-if-error allows, the waiters of a fetch the origin answered
// with a 5xx get the stale entry, like its leader, with one origin request.
func Test5xxServesWaitersStale(t *testing.T) {
	var failing atomic.Bool
	entered, release := make(chan struct{}, 64), make(chan struct{})
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if !failing.Load() {
			cacheable("max-age=10, stale-if-error=60", "good")(w, r)
			return
		}
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	g := startGateway(t, o, nil)
	g.get(t, "/")
	g.advance(15 * time.Second)
	failing.Store(true)
	before := o.requests.Load()
	const n = 6
	lead, res := leaderThenWaiters(t, g, entered, release, n, "/")
	for _, r := range append(res, lead) {
		if r.status != 200 || r.body != "good" || !strings.Contains(r.cacheStatus(), "detail=stale-if-error") {
			t.Fatalf("got %d %q %q", r.status, r.body, r.cacheStatus())
		}
	}
	if got := o.requests.Load() - before; got != 1 {
		t.Fatalf("origin saw %d requests, want 1", got)
	}
}

// TestWaitersGoOnceTheLeaderKnows: requests that wait on a fetch are let
// go as soon as the leader knows what they get, not when its client has
// its whole body: at the header of an answer that will not be stored
// (private, too large), they ask the origin on their own at once, while
// the leader's origin holds the rest of its body and its client reads
// nothing. (They waited for the leader's whole transfer before.) A body
// that is stored still answers them from the entry, collapsed.
func TestWaitersGoOnceTheLeaderKnows(t *testing.T) {
	const size = 64 << 10
	for _, c := range []struct {
		name      string
		header    func(h http.Header)
		stored    bool
		maxObject int64
	}{
		{"private", func(h http.Header) { h.Set("Cache-Control", "private, max-age=60") }, false, 0},
		{"too large", func(h http.Header) { h.Set("Cache-Control", "max-age=60") }, false, size / 2},
		{"stored", func(h http.Header) { h.Set("Cache-Control", "max-age=60") }, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			entered, header, rest := make(chan struct{}, 64), make(chan struct{}), make(chan struct{})
			var first atomic.Bool
			body := bytes.Repeat([]byte("b"), size)
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				c.header(w.Header())
				w.Header().Set("Content-Length", strconv.Itoa(size))
				if !first.CompareAndSwap(false, true) {
					w.Write(body)
					return
				}
				entered <- struct{}{}
				<-header
				if c.stored {
					// The whole body reaches the gateway; its client's
					// copy is held below, on the gateway's side.
					w.Write(body)
					return
				}
				w.Write(body[:size/2])
				w.(http.Flusher).Flush()
				<-rest
				w.Write(body[size/2:])
			})
			g := startGateway(t, o, func(cfg *gateway.Config) {
				if c.maxObject > 0 {
					cfg.MaxObjectSize = c.maxObject
				}
			})
			// The leader's client reads its header and a byte, then
			// nothing until the waiters are answered.
			leaderDone := make(chan []byte, 1)
			go func() {
				resp := g.open(t, "/big")
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1))
				<-rest
				more, _ := io.ReadAll(resp.Body)
				leaderDone <- append(b, more...)
			}()
			<-entered
			const n = 4
			done := make(chan result, n)
			for range n {
				go func() { done <- g.get(t, "/big") }()
			}
			waitWaiting(t, g.Gateway, n)
			close(header)
			timeout := time.After(10 * time.Second)
			for i := range n {
				select {
				case r := <-done:
					if r.status != http.StatusOK || len(r.body) != size {
						t.Fatalf("waiter %d: %d, %d bytes", i, r.status, len(r.body))
					}
					if c.stored != strings.Contains(r.cacheStatus(), "collapsed") {
						t.Fatalf("waiter %d: Cache-Status %q", i, r.cacheStatus())
					}
				case <-timeout:
					close(rest)
					t.Fatalf("%d of %d waiters still waiting while the leader's client reads its body", n-i, n)
				}
			}
			close(rest)
			if b := <-leaderDone; len(b) != size {
				t.Fatalf("the leader's client got %d bytes, want %d", len(b), size)
			}
		})
	}
}
