package redisstore

import (
	"cmp"
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
	// (redis://user:password@host:6379/0), or a redis-sentinel:// URL of
	// the sentinels and the master's name
	// (redis-sentinel://:password@s1:26379,s2:26379/mymaster[/db]; the
	// password is the master's). Empty means use Addrs.
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
	// MinReplicas is how many replicas must acknowledge an invalidation
	// (Redis WAIT) before it counts as recorded; until then it fails with
	// ErrUnavailable and is retried, so a failover to a replica cannot
	// lose it. Zero means 1 with Sentinel and none otherwise; -1 means none.
	MinReplicas int
}

// sentinelScheme selects Sentinel in URL.
const sentinelScheme = "redis-sentinel"

// sentinelURL is what a redis-sentinel:// URL says.
type sentinelURL struct {
	addrs              []string
	master             string
	db                 int
	username, password string
}

// parseSentinelURL reads redis-sentinel://[user:password@]h1:p1,h2:p2/master[/db].
// It is split by hand: net/url rejects a host list.
func parseSentinelURL(raw string) (sentinelURL, error) {
	var u sentinelURL
	rest, ok := strings.CutPrefix(raw, sentinelScheme+"://")
	if !ok {
		return u, errors.New("not a redis-sentinel:// URL")
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		cred := rest[:at]
		rest = rest[at+1:]
		user, pass, _ := strings.Cut(cred, ":")
		var err1, err2 error
		if u.username, err1 = url.PathUnescape(user); err1 != nil {
			return u, errors.New("bad escape in the user name")
		}
		if u.password, err2 = url.PathUnescape(pass); err2 != nil {
			return u, errors.New("bad escape in the password")
		}
	}
	hosts, path, _ := strings.Cut(rest, "/")
	if hosts == "" {
		return u, errors.New("URL has no sentinel address")
	}
	u.addrs = strings.Split(hosts, ",")
	master, db, hasDB := strings.Cut(strings.TrimSuffix(path, "/"), "/")
	if master == "" {
		return u, errors.New("URL has no master name (redis-sentinel://host:26379/mymaster)")
	}
	u.master = master
	if hasDB {
		n, err := strconv.Atoi(db)
		if err != nil {
			return u, fmt.Errorf("database %q is not a number", db)
		}
		u.db = n
	}
	return u, nil
}

// Validate reports every setting that cannot work, each a *setting.Error
// named as the config file's redis section spells it.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) { errs = append(errs, setting.Errorf(name, format, a...)) }
	addrs := c.Addrs
	if strings.HasPrefix(c.URL, sentinelScheme+"://") {
		su, err := parseSentinelURL(c.URL)
		if err != nil {
			bad("url", "%v", err)
		}
		addrs = append(addrs, su.addrs...)
		if len(c.Addrs) > 0 || c.MasterName != "" || c.DB != 0 {
			bad("url", "a redis-sentinel:// URL names the sentinels, master and database; leave addrs, master_name and db out")
		}
		if su.db < 0 || su.db > MaxDB {
			bad("url", "database must be between 0 and %d, got %d", MaxDB, su.db)
		}
	} else if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil {
			// url.Parse's error repeats the URL, which may hold a password.
			bad("url", "not a valid URL")
		} else if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
			bad("url", "URL scheme must be redis, rediss, unix or redis-sentinel, got %q", u.Scheme)
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
	for i, a := range addrs {
		name := "url"
		if i < len(c.Addrs) {
			name = setting.Index("addrs", i)
		}
		host, port, err := net.SplitHostPort(a)
		if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
			bad(name, "address %q is not host:port", a)
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
	if c.MinReplicas < -1 {
		bad("min_replicas", "must be -1 (none), 0 (the default) or more, got %d", c.MinReplicas)
	}
	if c.MinReplicas > 0 && !c.sentinel() && (c.Cluster || len(c.Addrs) > 1) {
		// WAIT acknowledges the writes of its connection, and a Cluster
		// pipeline spreads over nodes.
		bad("min_replicas", "is not supported with Redis Cluster")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redisstore config: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Prefix = cmp.Or(c.Prefix, DefaultPrefix)
	c.MaxTTL = cmp.Or(c.MaxTTL, DefaultMaxTTL)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.Cooldown = cmp.Or(c.Cooldown, DefaultCooldown)
	if c.MinReplicas == 0 && c.sentinel() {
		c.MinReplicas = 1
	}
	return c
}

// sentinel reports whether c selects Redis Sentinel.
func (c Config) sentinel() bool {
	return c.MasterName != "" || strings.HasPrefix(c.URL, sentinelScheme+"://")
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
	if strings.HasPrefix(cfg.URL, sentinelScheme+"://") {
		su, _ := parseSentinelURL(cfg.URL) // checked by Validate
		opts.Addrs, opts.MasterName, opts.DB = su.addrs, su.master, su.db
		if opts.Username == "" {
			opts.Username = su.username
		}
		if opts.Password == "" {
			opts.Password = su.password
		}
	} else if cfg.URL != "" {
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
