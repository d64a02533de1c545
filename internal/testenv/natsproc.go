package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSServerPackage is the import path of the standalone server, built
// from the version this module requires (see BuildNATSServer).
const NATSServerPackage = "github.com/nats-io/nats-server/v2"

// BuildNATSServer builds the nats-server binary of the version in go.mod
// and returns its path.
func BuildNATSServer(t testing.TB) string {
	t.Helper()
	return filepath.Join(GoBuild(t, NATSServerPackage), "nats-server")
}

// NATSProcess is a standalone nats-server process with JetStream on
// loopback, requiring a user and password: the way an operator runs NATS
// beside cachegate, and what fault tests stop and start.
type NATSProcess struct {
	// URL carries the credentials: nats://user:pass@127.0.0.1:port.
	URL string
	// Addr is host:port.
	Addr string
	// LeafAddr is the leaf node listener's host:port (StartNATSRegion);
	// empty without one.
	LeafAddr string

	t    testing.TB
	bin  string
	args []string
	cmd  *exec.Cmd
	done <-chan struct{}
	out  *SyncBuffer
}

// StartNATSProcess starts bin (from BuildNATSServer) on a free port with
// JetStream, its store in a temporary directory, accepting only user and
// password, and stops it when t ends. It returns once a client with those
// credentials reaches JetStream.
func StartNATSProcess(t testing.TB, bin, user, password string) *NATSProcess {
	t.Helper()
	store := t.TempDir()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		n := &NATSProcess{t: t, bin: bin}
		n.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		n.URL = (&url.URL{Scheme: "nats", User: url.UserPassword(user, password), Host: n.Addr}).String()
		n.args = []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", store,
			"--user", user, "--pass", password}
		if err = n.start(); err == nil {
			t.Cleanup(n.Stop)
			return n
		}
	}
	t.Fatalf("nats-server: %v", err)
	return nil
}

func (n *NATSProcess) start() error {
	cmd, done, out, err := startProcess(n.bin, n.args...)
	if err != nil {
		return err
	}
	n.cmd, n.done, n.out = cmd, done, out
	err = Poll(20*time.Second, n.jetStreamReady)
	if err != nil {
		n.Stop()
		return fmt.Errorf("not ready: %w; output: %s", err, out.String())
	}
	return nil
}

// jetStreamReady reports whether the server answers a JetStream request
// with its credentials.
func (n *NATSProcess) jetStreamReady() error {
	select {
	case <-n.done:
		return fmt.Errorf("nats-server exited")
	default:
	}
	nc, err := nats.Connect(n.URL, nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	_, err = js.AccountInfo(nats.MaxWait(time.Second))
	return err
}

// Stop stops the server cleanly (SIGTERM, so JetStream flushes its store)
// and waits for it; a server that hangs is killed after 10 s.
func (n *NATSProcess) Stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	n.cmd = nil
}

// Start starts a stopped server again on the same port with the same
// JetStream store, and returns once JetStream answers.
func (n *NATSProcess) Start() {
	n.t.Helper()
	if err := n.start(); err != nil {
		n.t.Fatalf("restart nats-server: %v", err)
	}
}

// Output is what the server printed so far, for failure messages.
func (n *NATSProcess) Output() string {
	if n.out == nil {
		return ""
	}
	return n.out.String()
}
