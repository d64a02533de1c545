package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// servedBy is the header the test handlers set to the type of their
// ResponseWriter, so a test sees which server answered.
const servedBy = "X-Served-By"

const (
	byLane    = "*h1.response"
	byNetHTTP = "*http.response"
)

func tag(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(servedBy, fmt.Sprintf("%T", w))
		h.ServeHTTP(w, r)
	})
}

type testServer struct {
	*Server
	addr  string
	logs  *testenv.SyncBuffer
	serve chan error
}

// start serves h through a Server on a loopback port; configure may change
// the Fallback server before it starts.
func start(t *testing.T, h http.Handler, configure func(*http.Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &http.Server{Handler: tag(h), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	if configure != nil {
		configure(fb)
	}
	logs := &testenv.SyncBuffer{}
	ts := &testServer{Server: &Server{Fallback: fb, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		addr: ln.Addr().String(), logs: logs, serve: make(chan error, 1)}
	go func() { ts.serve <- ts.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-ts.serve; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ts
}

// client is one raw connection to the server under test.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t *testing.T) *client {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := c.c.Write([]byte(raw)); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request of method; the body is read whole.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return res, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	c.send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n")
	return c.read("GET")
}

// closed fails unless the server closes the connection without another
// byte.
func (c *client) closed() {
	c.t.Helper()
	if b, err := c.br.ReadByte(); err == nil {
		c.t.Fatalf("connection open, read %q", b)
	}
}

func wantServedBy(t *testing.T, res *http.Response, want string) {
	t.Helper()
	if got := res.Header.Get(servedBy); got != want {
		t.Fatalf("served by %q, want %q", got, want)
	}
}
