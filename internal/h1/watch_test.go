package h1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

func TestClientGoneEndsTheRequestContext(t *testing.T) {
	entered, ended := make(chan struct{}), make(chan error, 1)
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(10 * time.Second):
			ended <- errors.New("context still live 10s after the client left")
		}
	}), nil)
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	c.c.Close()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// A request pipelined while a slow handler runs is read by the watch (one
// byte) and must still be served whole and in order.
func TestPipelinedWhileWatching(t *testing.T) {
	release := make(chan struct{})
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}), nil)
	c := ts.dial(t)
	c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	testenv.WaitFor(t, 10*time.Second, func() error {
		if ts.backgroundReads.Load() == 0 {
			return errors.New("no watch started")
		}
		return nil
	})
	c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
	testenv.WaitFor(t, 10*time.Second, func() error {
		if !ts.watchHoldsByte() {
			return errors.New("the watch has not read the next request's first byte")
		}
		return nil
	})
	close(release)
	for _, want := range []string{"/slow", "/next"} {
		res, body := c.read("GET")
		wantServedBy(t, res, byLane)
		if body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
}

func (s *Server) watchHoldsByte() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.watch.mu.Lock()
		has := c.watch.hasByte
		c.watch.mu.Unlock()
		if has {
			return true
		}
	}
	return false
}
