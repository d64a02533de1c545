package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// WaitFor polls check until it returns nil, failing t with the last error
// once timeout has passed. It is for awaiting a state that has no event to
// wait on (a server accepting connections, a value replicated).
func WaitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := Poll(timeout, check); err != nil {
		t.Fatal(err)
	}
}

// Poll is WaitFor returning the error instead of failing a test.
func Poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// FreePort returns a loopback port that was free a moment ago, for servers
// that cannot bind port 0 themselves (redis-server, varnishd).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Binary returns the path of a server binary or fails t saying which Debian
// package provides it.
func Binary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's %s (make test does: apt-get install %s)", name, debianPackage, debianPackage)
	}
	return p
}
