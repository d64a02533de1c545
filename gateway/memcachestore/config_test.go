package memcachestore

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want []string
		err  string
	}{
		{"memcached://a:11211,b:11212", []string{"a:11211", "b:11212"}, ""},
		{"memcached://a,[::1]:1/", []string{"a:11211", "[::1]:1"}, ""},
		{"MEMCACHED://a:1", []string{"a:1"}, ""},
		{"redis://a:1", nil, "scheme must be memcached"},
		{"memcached://", nil, "no server"},
		{"memcached://u:p@a:1", nil, "only servers"},
		{"memcached://a:1/0", nil, "only servers"},
		{"a:1", nil, "not a valid URL"},
	} {
		got, err := ParseURL(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseURL(%q) = %v, %v; want error with %q", c.url, got, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseURL(%q) = %v, %v; want %v", c.url, got, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		err  string // "" valid
	}{
		{"url", Config{URL: "memcached://a:1,b:2"}, ""},
		{"servers", Config{Servers: []string{"a:1"}}, ""},
		{"none", Config{}, "no memcached server"},
		{"both", Config{URL: "memcached://a:1", Servers: []string{"b:1"}}, "not both"},
		{"bad port", Config{Servers: []string{"a:1", "b:x"}}, `servers[1]: address "b:x"`},
		{"twice", Config{URL: "memcached://a:1,a:1"}, "listed twice"},
		{"prefix space", Config{URL: "memcached://a:1", Prefix: "c g"}, "key_prefix"},
		{"ttl over 30 days", Config{URL: "memcached://a:1", MaxTTL: 31 * 24 * time.Hour}, "30 days"},
		{"negative timeout", Config{URL: "memcached://a:1", Timeout: -1}, "timeout"},
	} {
		err := c.cfg.Validate()
		if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.err)
		}
	}
}
