package memcachestore

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/internal/setting"
)

// Defaults for the zero values of Config. The timeout is short on purpose:
// L2 is an optimisation, and a slow memcached must cost a request little
// more than a miss.
const (
	DefaultPrefix      = "cg"
	DefaultMaxTTL      = 24 * time.Hour
	DefaultTimeout     = 250 * time.Millisecond
	DefaultCooldown    = time.Second
	DefaultMaxItemSize = 1 << 20 // memcached's default -I
	// MaxTTLLimit is memcached's longest relative expiry (30 days): a
	// larger one is read as an absolute Unix time.
	MaxTTLLimit = 30 * 24 * time.Hour
	// maxPrefix keeps every key (prefix, kind, 22-character hash) well
	// under memcached's 250 bytes.
	maxPrefix = 64
)

// Config configures the memcached layer.
type Config struct {
	// URL is memcached://host1:port1,host2:port2 (the port defaults to
	// 11211). Empty means use Servers.
	URL string
	// Servers are the memcached host:port addresses; keys are spread over
	// them by consistent hashing.
	Servers []string

	// Prefix starts every key. Empty means DefaultPrefix.
	Prefix string
	// MaxTTL is the longest time an entry is kept; Set clamps to it. Zero
	// means DefaultMaxTTL.
	MaxTTL time.Duration
	// MaxItemSize is the servers' item size limit (memcached -I); a larger
	// entry is not stored. Zero means DefaultMaxItemSize.
	MaxItemSize int
	// Timeout bounds each network step (dial, read, write). Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxIdleConns is the idle connection pool per server; zero means the
	// client library's default (2), too few for a busy gateway.
	MaxIdleConns int
	// Cooldown is how long the store skips memcached after a connection
	// failure before it probes again. Zero means DefaultCooldown.
	Cooldown time.Duration
}

// ParseURL returns the servers of a memcached:// URL, each as host:port.
// It is split by hand: net/url rejects a host list (a port of "11211,b").
func ParseURL(raw string) ([]string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("not a valid URL")
	}
	if !strings.EqualFold(scheme, "memcached") {
		return nil, fmt.Errorf("URL scheme must be memcached, got %q", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/?#@") {
		return nil, errors.New("a memcached URL takes only servers: memcached://host1:port1,host2:port2")
	}
	if rest == "" {
		return nil, errors.New("URL has no server")
	}
	var out []string
	for _, s := range strings.Split(rest, ",") {
		if !strings.Contains(s, ":") {
			s = net.JoinHostPort(s, "11211")
		}
		out = append(out, s)
	}
	return out, nil
}

// servers returns the configured servers, from URL or Servers.
func (c Config) servers() ([]string, error) {
	if c.URL != "" {
		return ParseURL(c.URL)
	}
	return c.Servers, nil
}

// Validate reports every setting that cannot work, each a *setting.Error
// named as the config file spells it.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) { errs = append(errs, setting.Errorf(name, format, a...)) }
	if c.URL != "" && len(c.Servers) > 0 {
		bad("url", "set url or servers, not both")
	}
	servers, err := c.servers()
	if err != nil {
		bad("url", "%v", err)
	}
	if err == nil && len(servers) == 0 {
		bad("url", "no memcached server given")
	}
	seen := map[string]bool{}
	for i, a := range servers {
		name := setting.Index("servers", i)
		if c.URL != "" {
			name = "url"
		}
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			bad(name, "address %q is not host:port", a)
		}
		if seen[a] {
			bad(name, "server %q is listed twice", a)
		}
		seen[a] = true
	}
	if len(c.Prefix) > maxPrefix || strings.ContainsFunc(c.Prefix, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		bad("key_prefix", "%q must be at most %d printable ASCII characters without spaces", c.Prefix, maxPrefix)
	}
	if c.MaxTTL > MaxTTLLimit {
		bad("max_ttl", "%v is over memcached's 30 days", c.MaxTTL)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_ttl", c.MaxTTL}, {"timeout", c.Timeout}, {"cooldown", c.Cooldown}} {
		if d.v < 0 {
			bad(d.name, "%v is negative", d.v)
		}
	}
	if c.MaxItemSize < 0 {
		bad("max_item_size", "must not be negative")
	}
	if c.MaxIdleConns < 0 {
		bad("max_idle_conns", "must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("memcachestore config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Prefix = cmp.Or(c.Prefix, DefaultPrefix)
	c.MaxTTL = cmp.Or(c.MaxTTL, DefaultMaxTTL)
	c.MaxItemSize = cmp.Or(c.MaxItemSize, DefaultMaxItemSize)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.Cooldown = cmp.Or(c.Cooldown, DefaultCooldown)
	return c
}
