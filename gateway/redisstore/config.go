package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.URL != "" && len(c.Addrs) > 0 {
		errs = append(errs, errors.New("set URL or Addrs, not both"))
	}
	for _, a := range c.Addrs {
		if a == "" || !strings.Contains(a, ":") {
			errs = append(errs, fmt.Errorf("address %q is not host:port", a))
		}
	}
	if strings.ContainsAny(c.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("prefix %q must not contain braces (they delimit the hash tag)", c.Prefix))
	}
	for name, d := range map[string]time.Duration{
		"MaxTTL": c.MaxTTL, "DialTimeout": c.DialTimeout, "ReadTimeout": c.ReadTimeout,
		"WriteTimeout": c.WriteTimeout, "Cooldown": c.Cooldown,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	if c.PoolSize < 0 || c.DB < 0 {
		errs = append(errs, errors.New("PoolSize and DB must not be negative"))
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
