package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// awaitContext answers "ok" after d, or how its request context ended
// first: a handler slower than the server's read timeouts.
func awaitContext(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			io.WriteString(w, "context ended: "+r.Context().Err().Error())
		case <-t.C:
			io.WriteString(w, "ok")
		}
	})
}

// A handler outlives every read deadline of its connection: the
// client-gone watch reads with none, as net/http's does, so neither the
// header timeout of a head that came in two reads nor the idle timeout
// armed before it ends the request's context.
func TestSlowHandlerOutlivesReadDeadlines(t *testing.T) {
	timeouts := func(s *http.Server) {
		s.ReadHeaderTimeout = 150 * time.Millisecond
		s.IdleTimeout = 250 * time.Millisecond
	}
	ts := start(t, awaitContext(700*time.Millisecond), timeouts)
	for _, tt := range []struct {
		name  string
		parts []string
	}{
		{"head in one read", []string{"GET / HTTP/1.1\r\nHost: h\r\n\r\n"}},
		{"head in two reads", []string{"GET / HTTP/1.1\r\n", "Host: h\r\n\r\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			for i, p := range tt.parts {
				if i > 0 {
					time.Sleep(30 * time.Millisecond) // so that the head arrives in two reads
				}
				c.send(p)
			}
			res, body := c.read("GET")
			wantServedBy(t, res, byLane)
			if body != "ok" {
				t.Fatalf("body %q, want ok", body)
			}
			// The deadline the watch cleared is armed again: an idle
			// connection still times out.
			c.closedByServer()
		})
	}
}

// A new connection has the header timeout to send its first request, as
// under net/http, not the much longer idle timeout.
func TestNewConnectionHasHeaderTimeout(t *testing.T) {
	ts := start(t, echoPath(), func(s *http.Server) {
		s.ReadHeaderTimeout = 200 * time.Millisecond
		s.IdleTimeout = time.Minute
	})
	ts.dial(t).closedByServer()
}

// A write deadline a handler sets through http.ResponseController ends
// with its response: the next request on the connection is not cut by it.
func TestHandlerWriteDeadlineEndsWithItsResponse(t *testing.T) {
	big := make([]byte, 1<<20)
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deadline" {
			if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
				t.Errorf("SetWriteDeadline: %v", err)
			}
			io.WriteString(w, "set")
			return
		}
		w.Write(big)
	}), nil)
	c := ts.dial(t)
	if _, body := c.get("/deadline"); body != "set" {
		t.Fatal(body)
	}
	time.Sleep(100 * time.Millisecond) // past the handler's deadline
	res, body := c.get("/big")
	wantServedBy(t, res, byLane)
	if len(body) != len(big) {
		t.Fatalf("read %d bytes of %d", len(body), len(big))
	}
}

// Shutdown closes a connection stalled in the middle of a head at once,
// as net/http does (it is idle until the head is whole), instead of
// waiting out its header timeout.
func TestShutdownClosesAStalledHead(t *testing.T) {
	ts := start(t, echoPath(), func(s *http.Server) { s.ReadHeaderTimeout = time.Minute })
	c := ts.dial(t)
	// One write: the server reads the stalled head with the request
	// before it, so it is buffered when Shutdown runs.
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\n")
	if _, body := c.read("GET"); body != "GET /" {
		t.Fatal(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v (it waited on the stalled head)", err)
	}
	c.closedByServer()
}

// closedByServer fails unless the server closes the connection without
// another byte (closed also passes when the client's own deadline ends
// the read).
func (c *client) closedByServer() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	var ne net.Error
	switch {
	case err == nil:
		c.t.Fatalf("connection open, read %q", b)
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Fatalf("the server kept the connection open until the client gave up: %v", err)
	}
}
