package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/internal/testenv"
)

// gatedOrigin answers path-specific bodies of size bytes, storable, with
// validator ("ETag", "Last-Modified", or "" for none), their length
// announced unless chunked: it sends the header and the first half, then
// waits for its gate to open before sending the rest.
func gatedOrigin(t *testing.T, size int, validator string, chunked bool, gate <-chan struct{}) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		body := bytes.Repeat([]byte(r.URL.Path[len(r.URL.Path)-1:]), size)
		w.Header().Set("Cache-Control", "public, max-age=600")
		switch validator {
		case "ETag":
			w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		case "Last-Modified":
			w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		}
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		w.Write(body[:size/2])
		w.(http.Flusher).Flush()
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		w.Write(body[size/2:])
	})
}

// storableHeader makes a response of size bytes storable for ten minutes,
// with an ETag when etag, its length announced unless chunked.
func storableHeader(h http.Header, etag, chunked bool, size int) {
	h.Set("Cache-Control", "public, max-age=600")
	if etag {
		h.Set("ETag", `"stored"`)
	}
	if !chunked {
		h.Set("Content-Length", strconv.Itoa(size))
	}
}

// waitFillsFreed waits until the fills in flight hold nothing for the
// store.
func waitFillsFreed(t *testing.T, g *gw) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if n := g.FillBufferInUse(); n != 0 {
			return fmt.Errorf("%d bytes still held for fills", n)
		}
		return nil
	})
}

// waitWaiters waits until n requests wait on another request's fetch.
func waitWaiters(t *testing.T, g *gw, n int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := metricValue(t, g, "cachegate_coalesced_waiting"); got != float64(n) {
			return fmt.Errorf("%v requests waiting, want %d", got, n)
		}
		return nil
	})
}

// startWaiters sends n GETs of path that wait on the fetch in flight, and
// returns their results as they come.
func startWaiters(t *testing.T, g *gw, path string, n int) <-chan result {
	t.Helper()
	waited := make(chan result, n)
	for range n {
		go func() { waited <- g.get(t, path) }()
	}
	waitWaiters(t, g, n)
	return waited
}

// open sends a GET and returns the response once its header arrived.
func (g *gw) open(t *testing.T, path string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, g.srv.URL+path, nil)
	req.Host = "acme"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestStoredMissStreamsBeforeTheBodyEnds: a storable miss reaches its
// client as the origin sends it, whatever its framing and validators, and
// is stored once whole. Its header says only what was known before the
// body: an unknown length is not announced and "stored" not claimed
// (detail=unknown-length), and the ETag generated for a response without
// a validator is in the stored entry, not in the streamed miss.
func TestStoredMissStreamsBeforeTheBodyEnds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		validator string
		chunked   bool
	}{
		{"etag", "ETag", false},
		{"last-modified", "Last-Modified", false},
		{"no validator", "", false},
		{"chunked, etag", "ETag", true},
		{"chunked, no validator", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 5 << 20
			gate := make(chan struct{})
			o := gatedOrigin(t, size, tc.validator, tc.chunked, gate)
			g := startGateway(t, o, nil)
			// The origin holds back half the body until the client has read
			// part of the first half through the gateway: a gateway that buffered
			// the body before answering would never answer.
			got := make(chan error, 1)
			var body []byte
			resp := g.open(t, "/big/a")
			// Requests for the same URL while the body streams wait on its
			// fill and are answered from the stored entry.
			const waiters = 3
			waited := startWaiters(t, g, "/big/a", waiters)
			go func() {
				// A quarter: what the proxy has sent on for sure (the tail of
				// what it read may wait in a write buffer for more).
				first := make([]byte, size/4)
				_, err := io.ReadFull(resp.Body, first)
				close(gate)
				rest, err2 := io.ReadAll(resp.Body)
				body = append(first, rest...)
				got <- errors.Join(err, err2)
			}()
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the first half of the body did not reach the client before the origin sent the rest")
			}
			if len(body) != size || body[size-1] != 'a' {
				t.Fatalf("client got %d bytes, want %d", len(body), size)
			}
			cs := resp.Header.Get("Cache-Status")
			if tc.chunked {
				if strings.Contains(cs, "stored") || !strings.Contains(cs, "detail=unknown-length") ||
					resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
					t.Fatalf("Cache-Status %q, length %d, Transfer-Encoding %q; want detail=unknown-length, not stored, chunked as the origin sent it",
						cs, resp.ContentLength, resp.TransferEncoding)
				}
			} else if !strings.Contains(cs, "stored") || resp.ContentLength != size {
				t.Fatalf("Cache-Status %q, length %d; want stored, %d", cs, resp.ContentLength, size)
			}
			// The origin's validator, or the one generated from the body
			// once it was whole: the stored entry's, which the streamed miss
			// could not carry.
			etag, missETag := `"/big/a"`, `"/big/a"`
			switch tc.validator {
			case "Last-Modified":
				etag, missETag = "", ""
			case "":
				etag, missETag = headers.BodyETag(body), ""
			}
			if v := resp.Header.Get("ETag"); v != missETag {
				t.Fatalf("the streamed miss has ETag %q, want %q", v, missETag)
			}
			for range waiters {
				r := <-waited
				wantStatus(t, r, "collapsed")
				if len(r.body) != size || r.header.Get("ETag") != etag {
					t.Fatalf("a waiter got %d bytes and ETag %q, want %d and %q", len(r.body), r.header.Get("ETag"), size, etag)
				}
			}
			testenv.WaitFor(t, 5*time.Second, func() error {
				if r := g.get(t, "/big/a"); !strings.Contains(r.cacheStatus(), "hit") || r.body != string(body) ||
					r.header.Get("Content-Length") != strconv.Itoa(size) || r.header.Get("ETag") != etag {
					return fmt.Errorf("second request: %q, %d bytes, Content-Length %q, ETag %q",
						r.cacheStatus(), len(r.body), r.header.Get("Content-Length"), r.header.Get("ETag"))
				}
				return nil
			})
			if n := o.requests.Load(); n != 1 {
				t.Fatalf("origin asked %d times, want 1", n)
			}
			waitFillsFreed(t, g)
		})
	}
}

func TestTooLargeResponseDeliveredWholeNotStored(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name          string
		chunked, etag bool
		// detail: too large before the header when the length is
		// announced; found only past the header otherwise.
		detail string
	}{
		{"announced length", false, true, "detail=too-large"},
		{"announced length, no validator", false, false, "detail=too-large"},
		{"chunked", true, true, "detail=unknown-length"},
		{"chunked, no validator", true, false, "detail=unknown-length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), tc.etag, tc.chunked, size)
				for i := 0; i < size; i += 4096 {
					w.Write(bytes.Repeat([]byte{byte('a' + i/4096%26)}, 4096))
				}
			})
			g := startGateway(t, o, func(c *gateway.Config) { c.MaxObjectSize = 64 << 10 })
			want := make([]byte, 0, size)
			for i := 0; i < size; i += 4096 {
				want = append(want, bytes.Repeat([]byte{byte('a' + i/4096%26)}, 4096)...)
			}
			for i := 1; i <= 2; i++ {
				r := g.get(t, "/big")
				if r.body != string(want) {
					t.Fatalf("request %d: body of %d bytes differs from the origin's %d", i, len(r.body), size)
				}
				wantStatus(t, r, tc.detail)
			}
			if n := o.requests.Load(); n != 2 {
				t.Fatalf("origin asked %d times, want 2 (nothing stored)", n)
			}
			waitFillsFreed(t, g)
		})
	}
}

// TestFillBufferBudgetBoundsSlowClients: clients that stop reading after
// the header, on distinct URLs, hold at most the budget for the store
// together, whether the lengths are announced or not, and each still gets
// its whole body.
func TestFillBufferBudgetBoundsSlowClients(t *testing.T) {
	const size, clients = 100 << 10, 8
	for _, tc := range []struct {
		name string
		etag bool
		// chunked: the length is unannounced; fills reserve as they
		// read, and stop keeping when the budget cannot grow.
		chunked bool
	}{{"announced length", true, false}, {"announced length, no validator", false, false},
		{"chunked", true, true}, {"chunked, no validator", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			gate := make(chan struct{})
			var started sync.WaitGroup
			started.Add(clients)
			var served atomic.Int64
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), tc.etag, tc.chunked, size)
				w.Write(bytes.Repeat([]byte("x"), size/2))
				w.(http.Flusher).Flush()
				if served.Add(1) <= clients {
					started.Done()
				}
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
				w.Write(bytes.Repeat([]byte("x"), size/2))
			})
			const budget = 250 << 10
			g := startGateway(t, o, func(c *gateway.Config) { c.FillBufferBytes = budget })
			// Every client gets its header while every origin holds back
			// half its body: the fills stream.
			got := make([]*http.Response, clients)
			for i := range clients {
				got[i] = g.open(t, fmt.Sprintf("/slow/%d", i))
			}
			started.Wait()
			// Every origin has sent half its body and the gateway has read
			// what its clients' sockets took: it holds at most the budget of
			// it for the store, whatever the number of clients.
			testenv.WaitFor(t, 5*time.Second, func() error {
				if n := g.FillBufferInUse(); n == 0 {
					return errors.New("nothing held for fills yet")
				}
				return nil
			})
			if n := g.FillBufferInUse(); n > budget {
				t.Fatalf("%d bytes held for fills, over the budget %d", n, budget)
			}
			if !tc.chunked {
				// An announced length is reserved whole: as many fills as
				// the budget holds; the others answer at once, unstored.
				if n, want := g.FillBufferInUse(), int64(budget/size*size); n != want {
					t.Fatalf("%d bytes held for fills, want %d", n, want)
				}
			}
			close(gate)
			stored := 0
			for i, resp := range got {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(b) != size {
					t.Fatalf("a client got %d bytes (%v), want %d", len(b), err, size)
				}
				cs := resp.Header.Get("Cache-Status")
				switch {
				case strings.Contains(cs, "stored"):
					stored++
				case strings.Contains(cs, "detail=buffer-budget"):
					// Known before the header: never stored.
					if r := g.get(t, fmt.Sprintf("/slow/%d", i)); strings.Contains(r.cacheStatus(), "hit") {
						t.Fatalf("/slow/%d answered %q before, then a hit", i, cs)
					}
				case !tc.chunked || !strings.Contains(cs, "detail=unknown-length"):
					t.Fatalf("Cache-Status %q, want stored or detail=buffer-budget (or, chunked, detail=unknown-length)", cs)
				}
			}
			if want := budget / size; !tc.chunked && stored != want {
				t.Fatalf("%d fills stored, want %d (as many as the budget holds)", stored, want)
			}
			if tc.chunked && stored != 0 {
				t.Fatalf("%d chunked fills claim stored before their length was known", stored)
			}
			waitFillsFreed(t, g)
		})
	}
}

// TestStalledClientFreesItsFill: a client that takes a fill's header and
// then stops reading (or a peer that died without closing) holds its
// part of the fill budget only FillClientStall: then the fill is given
// up, its reservation goes back, and another fill that needs it is
// stored. What the stalled client fetched is not stored; when it reads
// again, a body of announced length (its header said "stored") is cut,
// one of unknown length (which claimed nothing) comes whole.
func TestStalledClientFreesItsFill(t *testing.T) {
	// Larger than what the sockets between a client that reads nothing
	// and the gateway take in, so the stalled fill cannot end.
	const size = 12 << 20
	body := pattern(size)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%t", chunked), func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), true, chunked, size)
				w.Write(body)
			})
			g := startGateway(t, o, func(c *gateway.Config) {
				c.MaxObjectSize, c.FillBufferBytes = 16<<20, 16<<20
				c.FillClientStall = time.Second
			})
			stalled := g.open(t, "/stalled")
			// Its fill holds its part of the budget while it streams, then
			// gives it back once the client has not read for the stall.
			testenv.WaitFor(t, 10*time.Second, func() error {
				if n := g.FillBufferInUse(); n != 0 {
					return fmt.Errorf("%d bytes held for the stalled client's fill", n)
				}
				return nil
			})
			if r := g.get(t, "/other"); r.body != string(body) || strings.Contains(r.cacheStatus(), "detail=buffer-budget") {
				t.Fatalf("a fill after the stall: %d bytes, Cache-Status %q; want it kept within the freed budget", len(r.body), r.cacheStatus())
			}
			if r := g.get(t, "/other"); !strings.Contains(r.cacheStatus(), "hit") {
				t.Fatalf("the fill after the stall was not stored: %q", r.cacheStatus())
			}
			b, err := io.ReadAll(stalled.Body)
			if cs := stalled.Header.Get("Cache-Status"); chunked == strings.Contains(cs, "stored") {
				t.Fatalf("the stalled client's Cache-Status %q", cs)
			}
			switch {
			case chunked && (err != nil || !bytes.Equal(b, body)):
				t.Fatalf("the stalled client got %d bytes (%v), want its %d: it was promised nothing", len(b), err, size)
			case !chunked && (err == nil || len(b) >= size || !bytes.Equal(b, body[:len(b)])):
				t.Fatalf("the stalled client got %d bytes (%v) of %d, want them cut: its header said stored", len(b), err, size)
			}
			if r := g.get(t, "/stalled"); strings.Contains(r.cacheStatus(), "hit") {
				t.Fatalf("the stalled fill was stored: %q", r.cacheStatus())
			}
			waitFillsFreed(t, g)
		})
	}
}
