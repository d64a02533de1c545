package gateway_test

import (
	"bufio"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestUpgradeThroughObservedWriter: a connection upgrade (101, then the
// origin's own protocol) passes through the gateway's response wrapper,
// with the request id on the 101, and the server logs no write on the
// taken-over connection.
func TestUpgradeThroughObservedWriter(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString(line)
		rw.Flush()
	})
	g := startGateway(t, o, nil)
	var logs testenv.SyncBuffer
	srv := httptest.NewUnstartedServer(g.Handler())
	srv.Config.ErrorLog = log.New(&logs, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: acme\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Request-Id: up-1\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Request-Id") != "up-1" {
		t.Fatalf("upgrade answered %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	io.WriteString(conn, "ping\n")
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("echo over the upgraded connection: %q %v", line, err)
	}
	conn.Close()
	srv.Close()
	if strings.Contains(logs.String(), "hijacked") {
		t.Errorf("the server logged: %s", logs.String())
	}
}

// TestRecycledHitStateStaysPrivate: a fresh hit recycles its writer
// wrapper and builds its key in a recycled buffer. Neither may leak into
// another request: the request id a wrapping handler reads after the
// gateway returned stays that request's, and the L2 hits copied to L1
// between recycled hits are found in L1 under their own keys.
func TestRecycledHitStateStaysPrivate(t *testing.T) {
	o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		cacheable("public, max-age=600", "page "+r.URL.RequestURI())(w, r)
	})
	g := startGateway(t, o, func(c *gateway.Config) { c.L2 = gateway.NewTestStore() })
	type seen struct{ id, path string }
	var after []seen
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r)
		// Read once the gateway returned, as a logging middleware would.
		after = append(after, seen{w.Header().Get("X-Request-Id"), r.URL.RequestURI()})
	})
	var recs []*httptest.ResponseRecorder
	serve := func(path, want string) {
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://acme"+path, nil))
		cs := rec.Header().Get("Cache-Status")
		if rec.Body.String() != "page "+path || !strings.Contains(cs, want) {
			t.Fatalf("%s answered %q with Cache-Status %q, want %q", path, rec.Body.String(), cs, want)
		}
		recs = append(recs, rec)
	}
	paths := []string{"/longer/path/b", "/a", "/c?q=1"}
	for _, p := range paths {
		serve(p, "stored")
	}
	if err := g.l1.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		serve(p, "detail=l2")
	}
	// A key longer than any before moves the recycled buffer: whatever
	// still aliases the old one keeps its last bytes.
	serve("/"+strings.Repeat("d", 200), "stored")
	for _, p := range paths {
		serve(p, "detail=l1")
	}
	ids := map[string]bool{}
	for i, s := range after {
		if s.id == "" || ids[s.id] || s.id != recs[i].Result().Header.Get("X-Request-Id") {
			t.Fatalf("request %d (%s): id read after return %q, sent %q; ids so far %v",
				i, s.path, s.id, recs[i].Result().Header.Get("X-Request-Id"), ids)
		}
		ids[s.id] = true
	}
	// Read again at the end: a recycled writer would have changed them.
	for i := range after {
		if got := recs[i].Header().Get("X-Request-Id"); got != after[i].id {
			t.Errorf("request %d: X-Request-Id now %q, was %q", i, got, after[i].id)
		}
	}
}
