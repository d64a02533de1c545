package gateway_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// gatedOrigin answers path-specific bodies of size bytes with a validator
// (validator: ETag or Last-Modified): it sends the header and the first
// half, then waits for its gate to open before sending the rest.
func gatedOrigin(t *testing.T, size int, validator string, gate <-chan struct{}) *origin {
	return startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		body := bytes.Repeat([]byte(r.URL.Path[len(r.URL.Path)-1:]), size)
		w.Header().Set("Cache-Control", "public, max-age=600")
		if validator == "ETag" {
			w.Header().Set("ETag", `"`+r.URL.Path+`"`)
		} else {
			w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
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

func TestStoredMissStreamsBeforeTheBodyEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  string
	}{{"etag", "ETag"}, {"last-modified", "Last-Modified"}} {
		t.Run(tc.name, func(t *testing.T) {
			const size = 5 << 20
			gate := make(chan struct{})
			o := gatedOrigin(t, size, tc.hdr, gate)
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
			waited := make(chan result, waiters)
			for range waiters {
				go func() { waited <- g.get(t, "/big/a") }()
			}
			testenv.WaitFor(t, 5*time.Second, func() error {
				if n := metricValue(t, g, "cachegate_coalesced_waiting"); n != waiters {
					return fmt.Errorf("%v requests waiting, want %d", n, waiters)
				}
				return nil
			})
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
			if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "stored") {
				t.Fatalf("Cache-Status %q, want stored", cs)
			}
			for range waiters {
				r := <-waited
				wantStatus(t, r, "collapsed")
				if len(r.body) != size {
					t.Fatalf("a waiter got %d bytes, want %d", len(r.body), size)
				}
			}
			testenv.WaitFor(t, 5*time.Second, func() error {
				if r := g.get(t, "/big/a"); !strings.Contains(r.cacheStatus(), "hit") || len(r.body) != size ||
					r.header.Get("Content-Length") != strconv.Itoa(size) {
					return fmt.Errorf("second request: %q, %d bytes, Content-Length %q", r.cacheStatus(), len(r.body), r.header.Get("Content-Length"))
				}
				return nil
			})
			if n := o.requests.Load(); n != 1 {
				t.Fatalf("origin asked %d times, want 1", n)
			}
			if n := g.FillBufferInUse(); n != 0 {
				t.Fatalf("%d bytes still held for fills", n)
			}
		})
	}
}

func TestTooLargeResponseDeliveredWholeNotStored(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name          string
		chunked, etag bool
	}{
		{"announced length", false, true},
		{"chunked (read before answering)", true, true},
		{"announced length, no validator (read before answering)", false, false},
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
				wantNoStatus(t, r, "hit")
			}
			if n := o.requests.Load(); n != 2 {
				t.Fatalf("origin asked %d times, want 2 (nothing stored)", n)
			}
			if n := g.FillBufferInUse(); n != 0 {
				t.Fatalf("%d bytes still held for fills", n)
			}
		})
	}
}

func TestFillBufferBudgetBoundsSlowClients(t *testing.T) {
	const size, clients = 100 << 10, 8
	for _, tc := range []struct {
		name string
		// etag: streamed fills, which reserve their announced length;
		// without, fills read before answering.
		etag bool
		// chunked: the length is unannounced; fills reserve as they read.
		chunked bool
	}{{"streamed", true, false}, {"read first", false, false}, {"read first, chunked", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			gate := make(chan struct{})
			var started sync.WaitGroup
			started.Add(clients)
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), tc.etag, tc.chunked, size)
				w.Write(bytes.Repeat([]byte("x"), size/2))
				w.(http.Flusher).Flush()
				started.Done()
				<-gate
				w.Write(bytes.Repeat([]byte("x"), size/2))
			})
			const budget = 250 << 10
			g := startGateway(t, o, func(c *gateway.Config) { c.FillBufferBytes = budget })
			// Clients that stop reading after the header: their fills
			// hold what they kept until the bodies end.
			resps := make(chan *http.Response, clients)
			for i := range clients {
				go func() {
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/slow/%d", g.srv.URL, i), nil)
					req.Host = "acme"
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						resps <- nil
						return
					}
					resps <- resp
				}()
			}
			started.Wait()
			// Every origin has sent half its body; the gateway holds at most
			// the budget of it for the store, whatever the number of clients.
			var got []*http.Response
			streamed := tc.etag && !tc.chunked
			if streamed {
				// Streamed fills reserve the announced length before the
				// header goes to the client.
				for range clients {
					if resp := <-resps; resp != nil {
						got = append(got, resp)
					}
				}
			}
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
				if !streamed {
					for range clients - budget/size {
						if resp := <-resps; resp != nil {
							got = append(got, resp)
						}
					}
				}
			}
			close(gate)
			if !streamed {
				for range clients - len(got) {
					if resp := <-resps; resp != nil {
						got = append(got, resp)
					}
				}
			}
			stored := 0
			for _, resp := range got {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || len(b) != size {
					t.Fatalf("a client got %d bytes (%v), want %d", len(b), err, size)
				}
				if strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
					stored++
				} else if !tc.chunked && !strings.Contains(resp.Header.Get("Cache-Status"), "detail=buffer-budget") {
					t.Fatalf("Cache-Status %q, want stored or detail=buffer-budget", resp.Header.Get("Cache-Status"))
				}
			}
			if len(got) != clients {
				t.Fatalf("%d of %d clients answered", len(got), clients)
			}
			if want := budget / size; !tc.chunked && stored != want {
				t.Fatalf("%d fills stored, want %d (as many as the budget holds)", stored, want)
			}
			testenv.WaitFor(t, 5*time.Second, func() error {
				if n := g.FillBufferInUse(); n != 0 {
					return fmt.Errorf("%d bytes still held for fills", n)
				}
				return nil
			})
		})
	}
}
