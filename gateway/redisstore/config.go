package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/setting"
)

// Defaults for the zero values of Config. The timeouts are short on
// purpose: L2 is an optimisation, and a slow Redis must cost a request
// little more than a miss.
const (
	DefaultPrefix       = "cg"
	DefaultMaxTTL       = 24 * time.Hour
	DefaultDialTimeout  = 250 * time.Millisecond
	DefaultReadTimeout  = 150 * time.Millisecond
	DefaultWriteTimeout = 150 * time.Millisecond
	DefaultCooldown     = time.Second
	// MaxDB is the highest database number of a default Redis (databases 16).
	MaxDB = 15
)

// recordMargin keeps invalidation records a little longer than MaxTTL, for
// a Set that checked liveness just before an invalidation and stored just
// after it.
const recordMargin = time.Minute

// Config configures the Redis layer and, through NewClient, its client.
type Config struct {
	// URL is a redis:// or rediss:// URL of a single server
	// (redis://user:password@host:6379/0). Empty means use Addrs.
	URL string
	// Addrs are host:port addresses: one for a single server, several for a
	// Redis Cluster's seed nodes, or the sentinels when MasterName is set.
	Addrs []string
	// MasterName selects Redis Sentinel: the name of the monitored master.
	MasterName string
	// Cluster forces cluster mode with a single address (a cluster's
	// configuration endpoint). Several Addrs imply it.
	Cluster bool
	// Username and Password authenticate (ACL or requirepass); they override
	// the URL's. Never logged.
	Username, Password string
	// DB selects the database of a single server or sentinel master.
	DB int
	// TLS connects with TLS to Addrs (a rediss:// URL implies it).
	TLS bool

	// Prefix starts every key, inside the tenant's hash tag: {cg:tenant}.
	// Empty means DefaultPrefix.
	Prefix string
	// MaxTTL is the longest time an entry is kept; Set clamps to it and
	// invalidation records expire after it. Zero means DefaultMaxTTL.
	MaxTTL time.Duration

	// DialTimeout, ReadTimeout and WriteTimeout bound each network step.
	// Zero means the Default* constants.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	// PoolSize is the connection pool size per node; zero means go-redis's
	// default (10 per CPU).
	PoolSize int
	// Cooldown is how long the store skips Redis after a connection failure
	// before it probes again. Zero means DefaultCooldown.
	Cooldown time.Duration
}

// Validate reports every setting that cannot work, each a *setting.Error
// named as the config file's redis section spells it.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) { errs = append(errs, setting.Errorf(name, format, a...)) }
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil {
			// url.Parse's error repeats the URL, which may hold a password.
			bad("url", "not a valid URL")
		} else if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
			bad("url", "URL scheme must be redis, rediss or unix, got %q", u.Scheme)
		} else if u.Host == "" && u.Scheme != "unix" {
			bad("url", "URL has no host")
		}
		if len(c.Addrs) > 0 {
			bad("addrs", "set url (one server) or addrs (cluster or sentinel), not both")
		}
		if c.DB != 0 {
			// NewClient takes the URL's database (its path, 0 when none).
			bad("db", "with url, the database is the URL's path (redis://host:6379/%d)", c.DB)
		}
	}
	for i, a := range c.Addrs {
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			bad(setting.Index("addrs", i), "address %q is not host:port", a)
		}
	}
	if c.MasterName != "" && len(c.Addrs) == 0 {
		bad("master_name", "needs the sentinel addresses in addrs")
	}
	if c.DB < 0 || c.DB > MaxDB {
		bad("db", "must be between 0 and %d, got %d", MaxDB, c.DB)
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		bad("key_prefix", "%q must not contain braces (they delimit the hash tag)", c.Prefix)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"max_ttl", c.MaxTTL}, {"dial_timeout", c.DialTimeout}, {"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout}, {"cooldown", c.Cooldown}} {
		if d.v < 0 {
			bad(d.name, "%v is negative", d.v)
		}
	}
	if c.PoolSize < 0 {
		bad("pool_size", "must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisstore config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Cooldown == 0 {
		c.Cooldown = DefaultCooldown
	}
	return c
}

// NewClient builds the go-redis client cfg describes: a single server, a
// Sentinel-managed master or a Cluster. Retries are off (commands and
// dials): a failed call fails fast and the store's circuit breaker decides
// when to try again. Callers' context deadlines are honoured.
func NewClient(cfg Config) (redis.UniversalClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" && len(cfg.Addrs) == 0 {
		return nil, errors.New("redisstore config: URL or Addrs is required")
	}
	cfg = cfg.withDefaults()
	opts := &redis.UniversalOptions{
		Addrs:         cfg.Addrs,
		MasterName:    cfg.MasterName,
		IsClusterMode: cfg.Cluster,
		Username:      cfg.Username,
		Password:      cfg.Password,
		DB:            cfg.DB,
		DialTimeout:   cfg.DialTimeout,
		ReadTimeout:   cfg.ReadTimeout,
		WriteTimeout:  cfg.WriteTimeout,
		PoolSize:      cfg.PoolSize,
		PoolTimeout:   cfg.ReadTimeout + cfg.WriteTimeout,
		MaxRetries:    -1,
		// One dial attempt: go-redis's default of five with backoff would
		// hold a request half a second when Redis is down.
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	}
	if cfg.URL != "" {
		u, err := redis.ParseURL(cfg.URL)
		if err != nil {
			// The URL may carry a password: do not echo it.
			return nil, errors.New("redisstore config: URL is not a valid redis:// or rediss:// URL")
		}
		opts.Addrs = []string{u.Addr}
		opts.TLSConfig = u.TLSConfig
		opts.DB = u.DB
		if opts.Username == "" {
			opts.Username = u.Username
		}
		if opts.Password == "" {
			opts.Password = u.Password
		}
	}
	if cfg.TLS && opts.TLSConfig == nil {
		// The server name is taken from each address as it is dialled.
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return redis.NewUniversalClient(opts), nil
}
