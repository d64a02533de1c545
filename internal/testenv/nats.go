package testenv

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS is an embedded nats-server with JetStream on loopback.
type NATS struct {
	Server *server.Server
	URL    string
	t      testing.TB
	opts   *server.Options
}

// StartNATS starts an embedded NATS server with JetStream, its store in a
// temporary directory, on a free port, and shuts it down when t ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	return StartNATSWith(t, nil)
}

// StartNATSWith is StartNATS with configure applied to the server's
// options first (e.g. users and permissions); nil changes nothing.
func StartNATSWith(t testing.TB, configure func(*server.Options)) *NATS {
	t.Helper()
	n := &NATS{t: t, opts: &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if configure != nil {
		configure(n.opts)
	}
	n.start()
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	s, err := server.NewServer(n.opts)
	if err != nil {
		n.t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("nats server not ready")
	}
	n.Server = s
	n.URL = s.ClientURL()
}

// Shutdown stops the server and waits for it; Resume starts it again.
func (n *NATS) Shutdown() {
	if n.Server != nil {
		if a, ok := n.Server.Addr().(*net.TCPAddr); ok {
			n.opts.Port = a.Port
		}
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
}

// Resume starts the server Shutdown stopped, on the same port with the
// same JetStream store.
func (n *NATS) Resume() {
	n.t.Helper()
	n.start()
}

// Restart stops the server and starts it again on the same port with the
// same JetStream store, as after a crash and restart.
func (n *NATS) Restart() {
	n.t.Helper()
	n.opts.Port = n.Server.Addr().(*net.TCPAddr).Port
	n.Shutdown()
	n.start()
}

// JetStream connects a client to the server and returns its JetStream
// context; the connection closes when the test ends.
func (n *NATS) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
