package testenv

import (
	"context"
	"testing"

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
