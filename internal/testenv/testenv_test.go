package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

func TestStartRedisAndRestart(t *testing.T) {
	r := StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if err := c.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping succeeded on a stopped server")
	}
	r.Restart()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestStartNATSRestartKeepsStreams(t *testing.T) {
	n := StartNATS(t)
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	n.Restart()
	nc, err = nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = nc.JetStream()
	if _, err := js.StreamInfo("T"); err != nil {
		t.Fatalf("stream lost across restart: %v", err)
	}
}

func TestStartRedisCluster(t *testing.T) {
	c := StartRedisCluster(t, 3)
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	defer cl.Close()
	ctx := context.Background()
	if err := cl.MSet(ctx, "{t}a", 1, "{t}b", 2).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestRedisPauseKeepsData(t *testing.T) {
	r := StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r.Pause()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err := c.Get(short, "k").Err()
	cancel()
	if err == nil {
		t.Fatal("a paused server answered")
	}
	r.Resume()
	WaitFor(t, 10*time.Second, func() error {
		v, err := c.Get(ctx, "k").Result()
		if err != nil {
			return err
		}
		if v != "v" {
			t.Fatalf("after resume: %q, want the data kept", v)
		}
		return nil
	})
}

func TestNATSProcessAuthAndRestart(t *testing.T) {
	n := StartNATSProcess(t, BuildNATSServer(t), "app", "s3cret")
	if nc, err := nats.Connect("nats://"+n.Addr, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("an anonymous client was let in")
	}
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("t.a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.Stop()
	// The client notices asynchronously; await it rather than assume.
	WaitFor(t, 10*time.Second, func() error {
		if nc.IsConnected() {
			return fmt.Errorf("still connected to a stopped server")
		}
		return nil
	})
	n.Start()
	WaitFor(t, 10*time.Second, func() error {
		info, err := js.StreamInfo("T")
		if err != nil {
			return err
		}
		if info.State.Msgs != 1 {
			t.Fatalf("stream has %d messages after restart, want 1", info.State.Msgs)
		}
		return nil
	})
}
