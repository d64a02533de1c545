package redisstore

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNewClientTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		tls  bool
	}{
		{"plain addrs", Config{Addrs: []string{"127.0.0.1:6379"}}, false},
		{"tls addrs", Config{Addrs: []string{"127.0.0.1:6379"}, TLS: true}, true},
		{"rediss url", Config{URL: "rediss://127.0.0.1:6380/0"}, true},
		{"redis url", Config{URL: "redis://127.0.0.1:6379/0"}, false},
	} {
		c, err := NewClient(tt.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		single, ok := c.(*redis.Client)
		if !ok {
			t.Fatalf("%s: client is %T, want a single-server client", tt.name, c)
		}
		if got := single.Options().TLSConfig != nil; got != tt.tls {
			t.Errorf("%s: TLS = %v, want %v", tt.name, got, tt.tls)
		}
		c.Close()
	}
}
