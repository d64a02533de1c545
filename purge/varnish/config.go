package varnish

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
)

// Defaults for the zero values of Config.
const (
	DefaultName    = "varnish"
	DefaultTimeout = 5 * time.Second
	// DefaultTagsPerCall bounds the keys of one PURGE request, as Fastly's
	// batch limit does; the header budget below usually binds first.
	DefaultTagsPerCall = 256
	// DefaultMaxHeaderBytes keeps the xkey-purge header under Varnish's
	// default http_req_hdr_len (8 KB) with room for the header's name.
	DefaultMaxHeaderBytes = cdn.VarnishMaxHeaderBytes
	// DefaultTargetsPerCall is how many URLs, prefixes or hosts one Purge
	// call takes; each is one BAN request per node.
	DefaultTargetsPerCall = 32
)

// MaxTagLength is the longest CDN tag name: a tenant, ':' and a tag.
const MaxTagLength = invalidation.MaxTenantLength + 1 + invalidation.MaxTagLength

// Config configures a Purger.
type Config struct {
	// Name is the provider's name in states, metrics and logs; empty means
	// DefaultName. Two Varnish clusters need two names.
	Name string `yaml:"name"`
	// URLs are the Varnish nodes, each "http://host:port" of a listener
	// whose client address the VCL's acl purgers admits. Every node gets
	// every purge. At least one is required.
	URLs []string `yaml:"urls"`
	// Soft marks tagged objects stale (xkey.softpurge: served within
	// grace while refetched) instead of removing them, for every batch; a
	// batch's own Soft does the same for it. Bans are always hard.
	Soft bool `yaml:"soft"`
	// Timeout bounds one request to one node; zero means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// TagsPerCall and MaxHeaderBytes bound one PURGE request: a Purge call
	// with more tags sends several. Zero means the defaults above; raise
	// MaxHeaderBytes only with varnishd -p http_req_hdr_len.
	TagsPerCall    int `yaml:"tags_per_call"`
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// TargetsPerCall bounds the URLs, prefixes and hosts of one Purge call;
	// zero means DefaultTargetsPerCall.
	TargetsPerCall int `yaml:"targets_per_call"`

	// Client sends the requests; nil means a client of its own that never
	// follows redirects. Its own Timeout, if any, applies as well.
	Client *http.Client `yaml:"-"`
	// Logger receives a debug line per node and call; nil discards.
	Logger *slog.Logger `yaml:"-"`
	// Registerer receives the provider's metrics; nil registers none.
	Registerer prometheus.Registerer `yaml:"-"`
}

// Validate reports every setting that cannot work, each a *setting.Error
// named as the config file's cdn.varnish section spells it.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) { errs = append(errs, setting.Errorf(name, format, a...)) }
	if c.Name != "" {
		if err := purge.ValidateTarget(c.Name); err != nil {
			errs = append(errs, &setting.Error{Field: "name", Err: err})
		}
	}
	if len(c.URLs) == 0 {
		bad("urls", "no node URLs (at least one http://host:port)")
	}
	seen := make(map[string]bool, len(c.URLs))
	for i, raw := range c.URLs {
		at := setting.Index("urls", i)
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			// url.Parse's error repeats the URL, which may hold a password.
			bad(at, "not a valid URL")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			bad(at, "node URL %q: need http://host:port", u.Redacted())
		case u.User != nil:
			bad(at, "node URL %q: credentials in the URL are not supported", u.Redacted())
		case seen[raw]:
			bad(at, "node URL %q listed twice", raw)
		}
		seen[raw] = true
	}
	if c.Timeout < 0 {
		bad("timeout", "%v is negative", c.Timeout)
	}
	if c.TagsPerCall < 0 {
		bad("tags_per_call", "must not be negative")
	}
	if c.TargetsPerCall < 0 {
		bad("targets_per_call", "must not be negative")
	}
	if c.MaxHeaderBytes != 0 && c.MaxHeaderBytes < MaxTagLength {
		bad("max_header_bytes", "%d cannot hold one tag of %d bytes", c.MaxHeaderBytes, MaxTagLength)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("varnish: %w", err)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.TagsPerCall == 0 {
		c.TagsPerCall = DefaultTagsPerCall
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.TargetsPerCall == 0 {
		c.TargetsPerCall = DefaultTargetsPerCall
	}
	if c.Client == nil {
		c.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
