package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the test sentinels monitor.
const SentinelMaster = "cachegate"

// RedisSentinel is a Sentinel-managed Redis on loopback: a primary, its
// replicas and three sentinels (quorum 2) that fail over about a second
// after the primary stops answering.
type RedisSentinel struct {
	// Sentinels are the sentinels' addresses, for a client.
	Sentinels []string
	// Servers are the primary (first, at start) and the replicas; after
	// a failover Primary says which one is the primary.
	Servers []*Redis
	t       testing.TB
	procs   []*exec.Cmd
}

// StartRedisSentinel starts a primary with replicas replicas and three
// sentinels, waits until the sentinels agree on the primary and see the
// replicas, and stops everything when t ends.
func StartRedisSentinel(t testing.TB, replicas int) *RedisSentinel {
	t.Helper()
	bin := Binary(t, "redis-sentinel", "redis-sentinel")
	s := &RedisSentinel{t: t}
	primary := StartRedis(t)
	s.Servers = append(s.Servers, primary)
	for range replicas {
		// A restarted old primary rejoins as a replica; keeping no data
		// on disk is fine, it resyncs in full.
		s.Servers = append(s.Servers, StartRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.port)))
	}
	for i := range 3 {
		port := FreePort(t)
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf(`bind 127.0.0.1
port %d
protected-mode no
dir %s
sentinel resolve-hostnames no
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, port, dir, SentinelMaster, primary.port, SentinelMaster, SentinelMaster, SentinelMaster)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd, done, out, err := startProcess(bin, conf)
		if err != nil {
			t.Fatalf("redis-sentinel %d: %v", i, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
		})
		s.procs = append(s.procs, cmd)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.Sentinels = append(s.Sentinels, addr)
		if err := Poll(10*time.Second, func() error {
			select {
			case <-done:
				return fmt.Errorf("exited: %s", out.String())
			default:
			}
			c := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
			defer c.Close()
			return c.Ping(context.Background()).Err()
		}); err != nil {
			t.Fatalf("redis-sentinel %d: %v; output: %s", i, err, out.String())
		}
	}
	WaitFor(t, 30*time.Second, func() error { return s.agree(primary.Addr, replicas) })
	return s
}

// agree reports whether every sentinel names primary as the primary and
// sees want replicas of it, and the primary has want replicas online.
func (s *RedisSentinel) agree(primary string, want int) error {
	ctx := context.Background()
	for _, addr := range s.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1})
		got, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err != nil {
			c.Close()
			return err
		}
		if a := net.JoinHostPort(got[0], got[1]); a != primary {
			c.Close()
			return fmt.Errorf("sentinel %s names %s as the primary, want %s", addr, a, primary)
		}
		reps, err := c.Replicas(ctx, SentinelMaster).Result()
		c.Close()
		if err != nil {
			return err
		}
		if len(reps) < want {
			return fmt.Errorf("sentinel %s sees %d replicas, want %d", addr, len(reps), want)
		}
	}
	c := redis.NewClient(&redis.Options{Addr: primary, MaxRetries: -1})
	defer c.Close()
	n, err := c.Do(ctx, "WAIT", want, 1000).Int()
	if err != nil {
		return err
	}
	if n < want {
		return fmt.Errorf("primary %s has %d replicas in sync, want %d", primary, n, want)
	}
	return nil
}

// Primary returns the server the sentinels currently name as the primary.
func (s *RedisSentinel) Primary() *Redis {
	s.t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0], MaxRetries: -1})
	defer c.Close()
	got, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
	if err != nil {
		s.t.Fatalf("sentinel: %v", err)
	}
	addr := net.JoinHostPort(got[0], got[1])
	for _, r := range s.Servers {
		if r.Addr == addr {
			return r
		}
	}
	s.t.Fatalf("sentinel names %s, not one of the servers", addr)
	return nil
}

// AwaitFailover waits until the sentinels agree on a primary other than
// old, with want replicas in sync, and returns it.
func (s *RedisSentinel) AwaitFailover(old *Redis, timeout time.Duration, want int) *Redis {
	s.t.Helper()
	var now *Redis
	WaitFor(s.t, timeout, func() error {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Sentinels[0], MaxRetries: -1})
		got, err := c.GetMasterAddrByName(context.Background(), SentinelMaster).Result()
		c.Close()
		if err != nil {
			return err
		}
		addr := net.JoinHostPort(got[0], got[1])
		if addr == old.Addr {
			return fmt.Errorf("no failover yet: %s is still the primary", addr)
		}
		for _, r := range s.Servers {
			if r.Addr == addr {
				now = r
			}
		}
		return s.agree(addr, want)
	})
	return now
}

// URL is the redis-sentinel:// URL of the set, for cachegate's L2.
func (s *RedisSentinel) URL() string {
	u := "redis-sentinel://"
	for i, a := range s.Sentinels {
		if i > 0 {
			u += ","
		}
		u += a
	}
	return u + "/" + SentinelMaster
}
