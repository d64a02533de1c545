package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Memcached is a memcached process on loopback.
type Memcached struct {
	Addr string
	t    testing.TB
	port int
	args []string
	cmd  *exec.Cmd
	done <-chan struct{}
	out  *SyncBuffer
}

// StartMemcached starts a memcached on a free loopback port (TCP only,
// 64 MiB, items up to 4 MiB) and stops it when t ends. extraArgs are
// appended to its command line.
func StartMemcached(t testing.TB, extraArgs ...string) *Memcached {
	t.Helper()
	m := &Memcached{t: t, args: extraArgs}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		m.port = FreePort(t)
		if err = m.start(); err == nil {
			t.Cleanup(m.Stop)
			return m
		}
	}
	t.Fatalf("memcached: %v", err)
	return nil
}

func (m *Memcached) start() error {
	bin := Binary(m.t, "memcached", "memcached")
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(m.port), "-U", "0", "-m", "64", "-I", "4m"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	cmd, done, out, err := startProcess(bin, append(args, m.args...)...)
	if err != nil {
		return err
	}
	m.cmd, m.done, m.out = cmd, done, out
	m.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	err = Poll(10*time.Second, func() error {
		select {
		case <-done:
			return fmt.Errorf("exited: %s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		m.Stop()
		return fmt.Errorf("%w; output: %s", err, out.String())
	}
	return nil
}

// Stop kills the server: its data is gone (an outage, or the eviction of
// everything it held).
func (m *Memcached) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (m *Memcached) Restart() {
	m.t.Helper()
	m.Stop()
	if err := m.start(); err != nil {
		m.t.Fatalf("restart memcached: %v", err)
	}
}
