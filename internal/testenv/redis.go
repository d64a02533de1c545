package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server process on loopback.
type Redis struct {
	Addr string
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	args []string
}

// StartRedis starts a redis-server on a free loopback port with no
// persistence and stops it when t ends.
func StartRedis(t testing.TB, extraArgs ...string) *Redis {
	t.Helper()
	r := &Redis{t: t, dir: t.TempDir(), args: extraArgs}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		r.port = FreePort(t)
		if err = r.start(); err == nil {
			t.Cleanup(r.Stop)
			return r
		}
	}
	t.Fatalf("redis-server: %v", err)
	return nil
}

func (r *Redis) start() error {
	bin := Binary(r.t, "redis-server", "redis-server")
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port),
		"--save", "", "--appendonly", "no", "--dir", r.dir,
		"--protected-mode", "no",
	}, r.args...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd = cmd
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	err := Poll(10*time.Second, func() error {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	})
	if err != nil {
		r.kill()
		return fmt.Errorf("%w; output: %s", err, out.String())
	}
	return nil
}

func (r *Redis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
	r.cmd = nil
}

// Stop kills the server (an outage, for tests of degradation).
func (r *Redis) Stop() { r.kill() }

// StopSaving stops the server the way an operator's `redis-cli shutdown
// save` (or a service stop) does: its data is written to disk first, and
// Start brings it back with that data.
func (r *Redis) StopSaving() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server closes the connection as it exits: the reply is an error.
	_ = c.ShutdownSave(ctx).Err()
	if r.cmd != nil {
		_ = r.cmd.Wait()
		r.cmd = nil
	}
	if _, err := os.Stat(filepath.Join(r.dir, "dump.rdb")); err != nil {
		r.t.Fatalf("redis-server stopped without saving its data: %v", err)
	}
}

// Start starts the server again on the same port with the data
// StopSaving wrote.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("resume redis-server: %v", err)
	}
}

// Pause stops the server with SIGSTOP: it keeps its port and its data,
// and connections to it hang (the kernel still accepts new ones), as a
// Redis stalled or cut off by the network does.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	if r.cmd == nil || r.cmd.Process == nil {
		r.t.Fatalf("redis-server is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("redis-server: %v: %v", sig, err)
	}
}

// Restart starts the server again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.kill()
	_ = os.Remove(filepath.Join(r.dir, "dump.rdb"))
	if err := r.start(); err != nil {
		r.t.Fatalf("restart redis-server: %v", err)
	}
}

// RedisCluster is a Redis Cluster of redis-server processes on loopback,
// masters only, with all 16384 slots assigned.
type RedisCluster struct {
	Addrs []string
	Nodes []*Redis
}

// StartRedisCluster starts n (at least 3) cluster nodes and joins them.
func StartRedisCluster(t testing.TB, n int) *RedisCluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("a Redis Cluster needs at least 3 masters, got %d", n)
	}
	c := &RedisCluster{}
	for i := 0; i < n; i++ {
		node := StartRedis(t, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--cluster-config-file", "nodes.conf")
		c.Nodes = append(c.Nodes, node)
		c.Addrs = append(c.Addrs, node.Addr)
	}
	cli := Binary(t, "redis-cli", "redis-tools")
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	WaitFor(t, 20*time.Second, func() error {
		for _, addr := range c.Addrs {
			cl := redis.NewClient(&redis.Options{Addr: addr})
			info, err := cl.ClusterInfo(context.Background()).Result()
			cl.Close()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: cluster not ok yet", addr)
			}
		}
		return nil
	})
	return c
}
