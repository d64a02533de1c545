package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/policy"
)

// File is a parsed config file. Every field is a plain value whose zero
// means "not set in the file": the command that loads it applies its flags
// and environment on top, field by field, then the package defaults, then
// calls Validate.
type File struct {
	// Path is where the file was read from (for messages); not a YAML key.
	Path string
	// Warnings are what the file says that may not take effect (a rule's
	// TTL an origin can still overrule), as "FILE:LINE: warning: ..."; not
	// a YAML key. They do not make the file invalid.
	Warnings Errors

	// Listen is the gateway's address ("127.0.0.1:8080"); empty: the
	// command's default.
	Listen string
	// AdminListen is the admin API and dashboard address; empty: default.
	AdminListen string
	// Origin is the origin's base URL (http or https).
	Origin string
	// CacheName names the cache in Cache-Status; empty: "cachegate".
	CacheName string
	// DataDir holds the embedded NATS server's data; empty: a temporary
	// directory.
	DataDir string
	// SessionCookies make requests private; nil: policy.DefaultSessionCookies.
	// An empty list in the file (session_cookies: []) means none.
	SessionCookies []string
	// ServerHeader: nil passes the origin's Server header; "" removes it;
	// anything else replaces it.
	ServerHeader *string
	// Via: nil or true adds "Via: 1.1 <cache_name>" (RFC 9110 asks proxies
	// to); false does not.
	Via *bool

	// MetricsListen serves /metrics alone, unauthenticated, on its own
	// address (Prometheus' scrape); empty: only on the admin listener.
	MetricsListen string
	Log           Log

	L1     L1
	L2     L2
	ESI    ESI
	Limits Limits
	Cache  Cache
	Warm   Warm
	Redis  Redis
	NATS   NATS
	Admin  Admin

	Tenants policy.TenantConfig
	// Routes are the ordered policy rules; Default applies when none
	// matches (zero: respect the origin).
	Routes  []policy.RuleConfig
	Default policy.RuleConfig

	CDN    CDN
	Events Events
}

// Log formats:
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Log configures the logs.
type Log struct {
	// Format is LogFormatText or LogFormatJSON; empty: text.
	Format string
	// Access turns the gateway's access log on: one line per request.
	Access bool
	// AccessSample is the fraction (0 to 1) of requests logged; server
	// errors always are. Zero: every request.
	AccessSample float64
}

// L1 configures the in-process cache.
type L1 struct {
	// MaxBytes bounds its size; 0: the gateway's default.
	MaxBytes int64
}

// Cache tunes how the gateway reads the origin's caching headers; zeros:
// the gateway's defaults.
type Cache struct {
	// HeuristicFreshness turns on RFC 9111 4.2.2 heuristic freshness (a
	// tenth of the Last-Modified age); off by default, as the contract says.
	HeuristicFreshness bool
	// Keep is how long a stale response with a validator stays stored to
	// be revalidated.
	Keep time.Duration
	// EarlyRefreshBeta is the XFetch beta of early refresh; 0: the
	// gateway's default (1); negative: off.
	EarlyRefreshBeta float64
	// TargetedFields are the RFC 9213 targeted cache-control fields the
	// gateway honours, in order, before Cache-Control; nil: the gateway's
	// default (Cachegate-Cache-Control, CDN-Cache-Control); empty: none.
	TargetedFields []string
}

// L2 configures what the gateway writes to the shared layer (redis: says
// where it is).
type L2 struct {
	// Admission: "always" (empty: the default) writes every fill;
	// "frequent" only fills of keys this instance was asked for before
	// (gateway.Config.L2Admission).
	Admission string
}

// ESI bounds fragment assembly (gateway.Config.ESITimeout and
// ESIMaxDepth); zeros: the gateway's defaults (5s, 5 levels).
type ESI struct {
	Timeout  time.Duration
	MaxDepth int
}

// Warm configures warming (gateway.WarmConfig); zeros: the gateway's
// defaults, warming after invalidations off.
type Warm struct {
	// Enabled tracks each tenant's most requested URLs and refetches those
	// an invalidation hit, in the background.
	Enabled bool
	// TopK is how many URLs are tracked per tenant.
	TopK int
	// Rate and OriginRate bound refetches per second, per tenant and to
	// the origin; Burst is how many may start at once.
	Rate, OriginRate float64
	Burst            int
	// MaxTenants bounds the tenants tracked (memory: about TopK × 300
	// bytes each).
	MaxTenants int
}

// Limits bound the request path; zeros: the gateway's defaults.
type Limits struct {
	MaxObjectSize  int64
	OriginTimeout  time.Duration
	MaxHeaderBytes int64
}

// Redis configures the shared L2; all zero: no L2. Use URL for one server,
// or Addrs (a cluster, or with MasterName a Sentinel set). A memcached://
// URL selects memcached instead (Memcached), with only KeyPrefix beside.
type Redis struct {
	URL        Secret // may carry a password; or memcached://h1:p1,h2:p2
	Addrs      []string
	MasterName string
	Username   string
	Password   Secret
	DB         int
	TLS        bool
	// KeyPrefix namespaces cachegate's keys in a shared Redis; empty:
	// the store's default.
	KeyPrefix string
}

// Enabled reports whether an L2 is configured.
func (r Redis) Enabled() bool { return r.URL != "" || len(r.Addrs) > 0 }

// Memcached reports whether the L2 is memcached (a memcached:// URL).
func (r Redis) Memcached() bool {
	scheme, _, ok := strings.Cut(string(r.URL), "://")
	return ok && strings.EqualFold(scheme, "memcached")
}

// NATS configures the event bus; URL empty: an embedded server. A
// standalone server takes at most one kind of credentials: User and
// Password, Token, NkeySeed or Credentials (events.ConnConfig.Validate
// decides which combinations are valid).
type NATS struct {
	URL string
	// Credentials is a .creds file for NATS decentralized auth.
	Credentials string
	Token       Secret
	User        string
	Password    Secret
	// NkeySeed is a file holding a user nkey seed.
	NkeySeed string
	// EmbeddedListen is the client address of the embedded server
	// ("127.0.0.1:4222"), for other instances and the nats CLI, which
	// authenticate with the nkey seed it writes to its data directory;
	// empty: no listener, an in-process-only server.
	EmbeddedListen string
	// Replicas of every JetStream stream and bucket cachegate creates
	// (events, dead letters, KV buckets, the purge queue, the audit log)
	// on a NATS cluster; 0 means 1. Use 3 on a three-server cluster.
	Replicas int
	// Partitions the events are spread over by tenant, each applied by
	// one coordinator at a time; 0 means the existing stream's count, or
	// events.DefaultPartitions for a new one. Fixed once the stream
	// exists.
	Partitions int
	// Region names this region (the JetStream domain of its NATS
	// servers) when several regions share events; empty: one region.
	Region string
	// Sources are the other regions whose events this region applies
	// (events.Regions).
	Sources []string
}

// Streams is the sizing of the events streams and buckets, and the
// regions they source from.
func (n NATS) Streams() events.StreamConfig {
	return events.StreamConfig{Replicas: n.Replicas, Partitions: n.Partitions,
		Regions: events.Regions{Name: n.Region, Sources: n.Sources}}
}

// Regions is how this region shares events with others and which region
// sends the CDN purges.
func (f *File) Regions() events.Regions {
	r := f.NATS.Streams().Regions
	r.PurgeRegion = f.CDN.PurgeRegion
	return r
}

// Conn is the connection config of a standalone server.
func (n NATS) Conn() events.ConnConfig {
	return events.ConnConfig{
		URL: n.URL, User: n.User, Password: string(n.Password), Token: string(n.Token),
		NkeySeedFile: n.NkeySeed, CredsFile: n.Credentials,
	}
}

// Admin configures the admin API.
type Admin struct {
	// Token is the bearer token; empty: the command generates one (or
	// takes CACHEGATE_ADMIN_TOKEN).
	Token Secret
}

// CDN providers a file may name (cdn's names).
const (
	ProviderNone       = cdn.None
	ProviderCloudflare = cdn.Cloudflare
	ProviderFastly     = cdn.Fastly
	ProviderAkamai     = cdn.Akamai
	ProviderVarnish    = cdn.Varnish
)

// Providers lists the provider names a file may use: "none", then cdn's.
func Providers() []string {
	return append([]string{ProviderNone}, cdn.Names()...)
}

// CDN configures the CDN in front of the gateway: the tag header format
// responses carry to it and where purges go.
type CDN struct {
	// Provider: "none" or empty (no CDN: tag headers never leave), or one
	// of Providers. Akamai selects the Edge-Cache-Tag format only; there is
	// no Akamai purger. The one-provider spelling of Providers.
	Provider string
	// Providers lists several providers at once (cdn.providers:
	// [cloudflare, varnish]): each gets its tag header on responses and
	// every purge. Nil or empty: Provider alone. Use ProviderNames.
	//
	// With Varnish among them, every tag header passes through Varnish and
	// is kept within its 8 KB header limit. A CDN above Varnish (Cloudflare,
	// Fastly) is sent a purge only once Varnish has its outcome, so it
	// cannot refill from Varnish's old copy (purge.Provider.After).
	Providers []string
	// CoalesceWindow merges purges dequeued within it; 0: the default.
	CoalesceWindow time.Duration
	// RetryBackoff and RetryBackoffMax bound the exponential backoff
	// between attempts of a purge the CDN failed with a temporary error
	// (retried until it succeeds); 0: purge.DefaultBackoffBase and
	// purge.DefaultBackoffMax.
	RetryBackoff, RetryBackoffMax time.Duration
	// CallTimeout bounds one CDN API call, after which a hanging call is
	// retried; 0: purge.DefaultCallTimeout.
	CallTimeout time.Duration
	// Header carries rules' CDN directives unless a rule names its own;
	// empty: the provider's (Cloudflare-CDN-Cache-Control, Surrogate-Control
	// for Fastly, else CDN-Cache-Control).
	Header string
	// Hosts maps a tenant to its public host, to make URL and prefix
	// purges absolute.
	Hosts map[string]string
	// PurgeRegion says which region sends an event's purges when several
	// regions share events (events.Regions.PurgeRegion): "origin" or
	// empty, a region's name, or "every".
	PurgeRegion string

	Cloudflare Cloudflare
	Fastly     Fastly
	Varnish    Varnish
}

// Cloudflare configures Cloudflare purges.
type Cloudflare struct {
	APIToken Secret
	BaseURL  string
	// Plan sets the per-call purge limits: free, pro, business or
	// enterprise; empty: enterprise's.
	Plan string
	// Zone is shared by tenants not in Zones (tags are tenant-prefixed).
	Zone string
	// Zones maps a tenant to a zone of its own.
	Zones map[string]string
}

// Fastly configures Fastly purges.
type Fastly struct {
	APIToken  Secret
	BaseURL   string
	ServiceID string
	// Services maps a tenant to a service of its own.
	Services  map[string]string
	SoftPurge bool
}

// Varnish configures purges of Varnish nodes (xkey).
type Varnish struct {
	URLs    []string
	Soft    bool
	Timeout time.Duration
	// StatsURLs answer GET with each node's varnishstat -j output, for the
	// dashboard's CDN hit ratio; empty: Varnish's is not shown.
	StatsURLs []string
}

// Events configures how change events map to tags, and whether this node
// applies them.
type Events struct {
	Rules []EventRule
	// NoCoordinator (events.coordinator: false) runs no event coordinator
	// on this node: it still drops invalidated tags from its own L1 (as
	// an instance every coordinator awaits), while the coordinators that
	// apply events to L2, the CDN queue and every L1 run on other nodes
	// of the same NATS. The zero value runs one. Needs nats.url.
	NoCoordinator bool
}

// EventRule adds tags to events of one type. Its fields are those of
// events.Rule, so events.Rule(r) converts it.
type EventRule struct {
	// Type is the event type ("company.updated"); "*" applies to all.
	Type string
	// Tags are templates over {tenant}, {type}, {entity}, {key}, {id} and
	// {data.x}.
	Tags []string
	// ReplaceDefault drops the default tags "<entity>:<key>" and "<entity>".
	ReplaceDefault bool
}

// CDNHeader is the header that carries rules' CDN directives.
func (f *File) CDNHeader() string {
	if f.CDN.Header != "" {
		return f.CDN.Header
	}
	return f.CDN.defaultCDNHeader()
}

// Policy returns the header policy of the file, for policy.Compile.
func (f *File) Policy() policy.Config {
	return policy.Config{
		SessionCookies: f.SessionCookies,
		Tenants:        f.Tenants,
		Rules:          f.Routes,
		Default:        f.Default,
		CDNHeader:      f.CDNHeader(),
	}
}

// CacheNameOrDefault is CacheName, or "cachegate".
func (f *File) CacheNameOrDefault() string { return cmp.Or(f.CacheName, "cachegate") }

// Secret is a string that never prints: fmt, slog and encoders see
// "[redacted]" (PITFALLS 12). Convert with string(s) where the value is
// needed.
type Secret string

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// LogValue redacts for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts for encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Error is one problem of a config file, at a line (0 when the problem has
// no single place, e.g. after overrides).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found, in line order; its Error is one
// "FILE:LINE: message" per line, as check-config prints it.
type Errors []Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}
