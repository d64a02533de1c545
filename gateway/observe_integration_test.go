package gateway_test

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
