package h1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func echoPath() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s body=%s", r.Method, r.URL.Path, b)
			return
		}
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	})
}

func TestKeepAliveAndRequestShape(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		fmt.Fprintf(w, "%s %s %s %s %s %v %v %v", r.Method, r.RequestURI, r.URL.RawQuery, r.Host, r.Header.Get("X-A"),
			r.RemoteAddr != "", srv != nil && srv.Handler != nil, local != nil && local.String() != "")
	}), nil)
	c := ts.dial(t)
	for i := range 200 {
		c.send(fmt.Sprintf("GET /p?i=%d HTTP/1.1\r\nHost: h\r\nx-a: %d\r\n\r\n", i, i))
		res, body := c.read("GET")
		wantServedBy(t, res, byLane)
		if want := fmt.Sprintf("GET /p?i=%d i=%d h %d true true true", i, i, i); body != want {
			t.Fatalf("request %d: body %q, want %q", i, body, want)
		}
		if res.ContentLength != int64(len(body)) || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" || res.Header.Get("Date") == "" || res.Close {
			t.Fatalf("request %d: header %v, Content-Length %d", i, res.Header, res.ContentLength)
		}
	}
}

func TestStandardClient(t *testing.T) {
	ts := start(t, echoPath(), nil)
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer cl.CloseIdleConnections()
	for _, tc := range []struct{ method, body, want string }{
		{"GET", "", "GET /a"}, {"POST", "xyz", "POST /a body=xyz"}, {"GET", "", "GET /a"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+ts.addr+"/a", strings.NewReader(tc.body))
		if tc.body == "" {
			req.Body = nil
		}
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != tc.want {
			t.Fatalf("%s: %q, want %q", tc.method, b, tc.want)
		}
	}
}

func TestPipelinedInOrder(t *testing.T) {
	ts := start(t, echoPath(), nil)
	c := ts.dial(t)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
	for _, want := range []struct{ method, body string }{{"GET", "GET /1"}, {"HEAD", ""}, {"GET", "GET /3"}} {
		res, body := c.read(want.method)
		wantServedBy(t, res, byLane)
		if body != want.body {
			t.Fatalf("%s: body %q, want %q", want.method, body, want.body)
		}
	}
}

func TestHEADAndBodilessStatuses(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code != 0 {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(code)
		}
		if _, err := io.WriteString(w, "hello"); code != 0 && !errors.Is(err, http.ErrBodyNotAllowed) {
			t.Errorf("status %d: Write error %v, want ErrBodyNotAllowed", code, err)
		}
	}), nil)
	c := ts.dial(t)
	c.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
	res, body := c.read("HEAD")
	if res.StatusCode != 200 || res.ContentLength != 5 || body != "" || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("HEAD: %d %v %q", res.StatusCode, res.Header, body)
	}
	for _, code := range []int{204, 304} {
		res, body := c.get(fmt.Sprint("/", code))
		wantServedBy(t, res, byLane)
		_, hasCT := res.Header["Content-Type"]
		if res.StatusCode != code || body != "" || res.Header.Get("Content-Length") != "" || res.TransferEncoding != nil || (code == 304) == hasCT {
			t.Fatalf("%d: %v %q", code, res.Header, body)
		}
	}
	if _, body := c.get("/"); body != "hello" {
		t.Fatalf("after 204 and 304 the connection is out of step: %q", body)
	}
}

func TestChunkedStreamingFlush(t *testing.T) {
	release := make(chan struct{})
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first;")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-release
		io.WriteString(w, "second")
	}), nil)
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TransferEncoding) != 1 || res.TransferEncoding[0] != "chunked" {
		t.Fatalf("Transfer-Encoding %v, want chunked", res.TransferEncoding)
	}
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "first;" {
		t.Fatalf("first chunk before the handler ended: %q %v", first, err)
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest %q %v", rest, err)
	}
	if _, body := c.get("/"); body != "first;second" {
		t.Fatalf("next request on the connection: %q", body)
	}
}

func TestResponseController(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if _, _, err := rc.Hijack(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Hijack: %v, want ErrNotSupported", err)
		}
		if err := rc.SetReadDeadline(time.Now()); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("SetReadDeadline: %v, want ErrNotSupported", err)
		}
		io.WriteString(w, "ok")
	}), nil)
	if res, body := ts.dial(t).get("/"); body != "ok" {
		t.Fatal(res.Status, body)
	}
}

func TestTrailers(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}), nil)
	c := ts.dial(t)
	res, body := c.get("/")
	if body != "body" || res.Trailer.Get("X-Sum") != "42" || res.Trailer.Get("X-Late") != "yes" {
		t.Fatalf("body %q trailer %v", body, res.Trailer)
	}
	if res.Header.Get("X-Sum") != "" {
		t.Fatalf("trailer value leaked into the header: %v", res.Header)
	}
}

func TestContentLengthEnforced(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		if r.URL.Path == "/short" {
			return // announced 3, wrote none: the connection must close
		}
		io.WriteString(w, "abc")
		if _, err := io.WriteString(w, "d"); !errors.Is(err, http.ErrContentLength) {
			t.Errorf("Write past Content-Length: %v", err)
		}
	}), nil)
	c := ts.dial(t)
	if res, body := c.get("/"); body != "abc" || res.ContentLength != 3 {
		t.Fatalf("%q %d", body, res.ContentLength)
	}
	c.closed() // as net/http: the refused write counts, so the stream is out of step
	c = ts.dial(t)
	c.send("GET /short HTTP/1.1\r\nHost: h\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil || res.ContentLength != 3 {
		t.Fatalf("%v %v", res, err)
	}
	c.closed()
}

func TestConnectionClose(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/handler-closes" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	}), nil)
	for _, tc := range []struct{ name, req string }{
		{"client asks", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{"handler sets", "GET /handler-closes HTTP/1.1\r\nHost: h\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			c.send(tc.req + "GET /never HTTP/1.1\r\nHost: h\r\n\r\n")
			res, body := c.read("GET")
			wantServedBy(t, res, byLane)
			if body != "ok" || !res.Close { // ReadResponse drops the "Connection: close" it saw
				t.Fatalf("%q %v", body, res.Header)
			}
			c.closed()
		})
	}
}

func TestHandOff(t *testing.T) {
	ts := start(t, echoPath(), nil)
	tests := []struct {
		name, req, method, want string
	}{
		{"body", "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "POST", "POST /p body=abc"},
		{"chunked", "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "POST", "POST /p body=abc"},
		{"GET with body", "GET /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "GET", "GET /p"},
		{"HTTP/1.0", "GET /p HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", "GET", "GET /p"},
		{"Upgrade", "GET /p HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET", "GET /p"},
		{"bare LF", "GET /p HTTP/1.1\nHost: h\n\n", "GET", "GET /p"},
		{"big head", "GET /p HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 3*readBufSize) + "\r\n\r\n", "GET", "GET /p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			if _, body := c.get("/lane"); body != "GET /lane" {
				t.Fatalf("lane: %q", body)
			}
			c.send(tt.req)
			res, body := c.read(tt.method)
			wantServedBy(t, res, byNetHTTP)
			if body != tt.want {
				t.Fatalf("handed off: %q, want %q", body, tt.want)
			}
			res, body = c.get("/after")
			wantServedBy(t, res, byNetHTTP) // net/http owns the connection now
			if body != "GET /after" {
				t.Fatalf("after hand-off: %q", body)
			}
		})
	}
}

// TestAnswersAsNetHTTP sends the same hostile bytes to the lane and to a
// plain net/http server: the answers must be the same, so smuggled bytes
// are never served as a request that net/http would not serve.
func TestAnswersAsNetHTTP(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"GET CL and TE", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"GET body hides a request", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 36\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\nGET /last HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"two Content-Lengths", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 36\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
		{"obs-fold TE", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n"},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	}
	lane := start(t, echoPath(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Server{Handler: tag(echoPath()), ReadHeaderTimeout: 5 * time.Second}
	go plain.Serve(ln)
	t.Cleanup(func() { plain.Close() })
	answer := func(addr, raw string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(raw))
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		// Strip what legitimately differs: Date.
		var lines []string
		for l := range strings.SplitSeq(string(b), "\r\n") {
			if !strings.HasPrefix(l, "Date: ") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\r\n")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := answer(ln.Addr().String(), tt.raw), answer(lane.addr, tt.raw)
			if got != want {
				t.Fatalf("lane answered\n%s\nnet/http answered\n%s", got, want)
			}
			if strings.Contains(got, byLane) {
				t.Fatalf("the lane served part of it:\n%s", got)
			}
		})
	}
}

func TestOversizedHeadIs431(t *testing.T) {
	ts := start(t, echoPath(), func(s *http.Server) { s.MaxHeaderBytes = 1024 })
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 8000) + "\r\n\r\n")
	res, _ := c.read("GET")
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

func TestIdleTimeoutCloses(t *testing.T) {
	ts := start(t, echoPath(), func(s *http.Server) { s.IdleTimeout = 300 * time.Millisecond })
	c := ts.dial(t)
	if _, body := c.get("/"); body != "GET /" {
		t.Fatal(body)
	}
	began := time.Now()
	c.closed()
	if d := time.Since(began); d < 200*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", d)
	}
}

func TestHeaderTimeoutCloses(t *testing.T) {
	ts := start(t, echoPath(), func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n")
	c.closed()
}

func TestShutdownWaitsForActiveClosesIdle(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	}), nil)
	idle := ts.dial(t)
	if _, body := idle.get("/"); body != "done" {
		t.Fatal(body)
	}
	active := ts.dial(t)
	active.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- ts.Shutdown(context.Background()) }()
	idle.closed()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was active", err)
	default:
	}
	close(release)
	res, body := active.read("GET")
	if body != "done" || !res.Close {
		t.Fatalf("active request: %q close=%v", body, res.Close)
	}
	active.closed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Fatal("listener still accepting after Shutdown")
	}
}

func TestPanicClosesOnlyItsConnection(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	}), nil)
	other := ts.dial(t)
	if _, body := other.get("/"); body != "ok" {
		t.Fatal(body)
	}
	for _, path := range []string{"/panic", "/abort"} {
		c := ts.dial(t)
		c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
		c.closed()
	}
	if _, body := other.get("/"); body != "ok" {
		t.Fatalf("other connection after a panic: %q", body)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "boom") || strings.Contains(logs, "abort Handler") {
		t.Fatalf("logs: %s", logs)
	}
}

func TestValidate(t *testing.T) {
	h := http.NotFoundHandler()
	for _, tc := range []struct {
		name string
		s    *Server
	}{
		{"no fallback", &Server{}},
		{"no handler", &Server{Fallback: &http.Server{}}},
		{"ConnState", &Server{Fallback: &http.Server{Handler: h, ConnState: func(net.Conn, http.ConnState) {}}}},
	} {
		if err := tc.s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
	if err := (&Server{Fallback: &http.Server{Handler: h}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestServeAfterShutdown(t *testing.T) {
	s := &Server{Fallback: &http.Server{Handler: http.NotFoundHandler()}}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
