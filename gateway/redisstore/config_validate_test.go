package redisstore

import (
	"fmt"
	"testing"

	"github.com/cachegate/cachegate/internal/setting"
)

// TestValidateNamesFields: every problem names the setting it is about, as
// the config file spells it, so the file's loader can show its line.
func TestValidateNamesFields(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // fields, in order
	}{
		{"valid url", Config{URL: "rediss://:pw@h:6380/2"}, "[]"},
		{"valid sentinel", Config{Addrs: []string{"a:26379", "b:26379"}, MasterName: "m", DB: 3}, "[]"},
		{"scheme", Config{URL: "http://h:1"}, "[url]"},
		{"both", Config{URL: "redis://h:1", Addrs: []string{"a:1"}}, "[addrs]"},
		{"db with url is ignored by the client", Config{URL: "redis://h:1", DB: 2}, "[db]"},
		{"addr", Config{Addrs: []string{"a:1", "b", ":1", "c:x"}}, "[addrs[1] addrs[2] addrs[3]]"},
		{"master without sentinels", Config{URL: "redis://h:1", MasterName: "m"}, "[master_name]"},
		{"db range", Config{Addrs: []string{"a:1"}, DB: 16}, "[db]"},
		{"prefix", Config{Addrs: []string{"a:1"}, Prefix: "{x}"}, "[key_prefix]"},
		{"negative", Config{Addrs: []string{"a:1"}, ReadTimeout: -1, PoolSize: -1}, "[read_timeout pool_size]"},
		{"sentinel url", Config{URL: "redis-sentinel://:pw@a:26379,b:26379/mymaster/2"}, "[]"},
		{"sentinel url without master", Config{URL: "redis-sentinel://a:26379"}, "[url]"},
		{"sentinel url bad address", Config{URL: "redis-sentinel://a:26379,b/m"}, "[url]"},
		{"sentinel url and addrs", Config{URL: "redis-sentinel://a:26379/m", Addrs: []string{"b:1"}}, "[url]"},
		{"sentinel url db range", Config{URL: "redis-sentinel://a:26379/m/16"}, "[url]"},
		{"min replicas", Config{Addrs: []string{"a:1"}, MinReplicas: -2}, "[min_replicas]"},
		{"min replicas on a cluster", Config{Addrs: []string{"a:1", "b:1"}, MinReplicas: 1}, "[min_replicas]"},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range setting.All(tt.cfg.Validate()) {
			got = append(got, e.Field)
		}
		if s := fmt.Sprint(got); s != tt.want {
			t.Errorf("%s: fields %s, want %s (%v)", tt.name, s, tt.want, tt.cfg.Validate())
		}
	}
}
