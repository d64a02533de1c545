package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/esi"
	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/uri"
)

// Defaults for the zero values of Config.
const (
	DefaultCacheName     = "cachegate"
	DefaultMaxObjectSize = 8 << 20
	// DefaultFillBufferBytes bounds the bodies held for the store across all
	// fills in flight: 8 responses of the default MaxObjectSize.
	DefaultFillBufferBytes = 64 << 20
	DefaultMaxHeaderBytes  = 64 << 10
	DefaultOriginTimeout   = 30 * time.Second
	// DefaultFillClientStall is how long a streamed fill waits for its
	// client to take the bytes it was given before it is given up: the
	// default of nginx's send_timeout.
	DefaultFillClientStall = 60 * time.Second
	DefaultMaxTTL          = 24 * time.Hour
	DefaultLockTTL         = 5 * time.Second
	DefaultKeep            = time.Hour
)

// MaxESIDepth bounds Config.ESIMaxDepth: each level of includes is a
// round of fetches a page waits for, and a page's includes multiply per
// level.
const MaxESIDepth = 20

// Values of Config.L2Admission.
const (
	AdmitAlways   = "always"
	AdmitFrequent = "frequent"
)

// Policy decides, once per request and before the cache is consulted, the
// tenant and what may be cached. It is declared here, where it is used; the
// policy engine in package policy implements it.
type Policy interface {
	Decide(r *http.Request) policy.Decision
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(r *http.Request) policy.Decision

// Decide calls f.
func (f PolicyFunc) Decide(r *http.Request) policy.Decision { return f(r) }

// TagEmitter writes a public response's tags into the header its CDN reads
// (Cache-Tag, Surrogate-Key, Edge-Cache-Tag, xkey), tenant-prefixed and
// within the CDN's size limits.
type TagEmitter interface {
	Emit(h http.Header, tenant string, tags []string)
}

// Config configures a Gateway. Validate reports what is wrong with it; New
// calls it.
type Config struct {
	// Origin is where requests are forwarded; required, http or https.
	Origin *url.URL
	// CacheName names the cache in Cache-Status. Empty means "cachegate".
	CacheName string

	// L1 is the in-process layer; required.
	L1 Store
	// L2 is the shared layer (Redis); nil means L1 and origin only.
	L2 Store
	// L2Admission decides which fills are written to L2: AdmitAlways (the
	// zero value) every one; AdmitFrequent only those of a key this
	// instance was asked for before, lately (internal/admission), so
	// responses seen once do not take L2's memory from the hot set. A fill
	// not admitted is not coalesced across instances either (there is no
	// L2 entry for the others to wait for).
	L2Admission string
	// L2Guard vetoes L2 entries killed by an invalidation L2 has not
	// recorded yet; nil means every live L2 entry may be served.
	L2Guard L2Guard
	// FillLock coalesces origin fetches across instances; nil means one
	// fetch per key per instance. Used only with an L2, where the other
	// instances wait for the entry.
	FillLock FillLock
	// LockTTL is how long a fill lock outlives a holder that died: a
	// holder re-arms it every LockTTL/3 while its fetch lasts, and the
	// others wait for the entry until then. Zero means DefaultLockTTL.
	LockTTL time.Duration

	// Policy decides tenant, privacy, TTLs and tags per request. Nil means
	// DefaultPolicy with SessionCookies.
	Policy Policy
	// SessionCookies name the cookies that make the default policy treat a
	// request as authenticated. Nil means "sessionid" and "session".
	SessionCookies []string
	// TagEmitter writes tags for a CDN; nil means no CDN is configured:
	// clients get no tag header, and the origin's CDN-targeted
	// cache-control headers (CDN-Cache-Control, Surrogate-Control, ...) are
	// removed, leaving only those the policy sets.
	TagEmitter TagEmitter

	// ServerHeader: nil passes the origin's Server header (and sends none
	// on the gateway's own answers); a pointer to "" removes it; anything
	// else replaces it.
	ServerHeader *string
	// Via adds "Via: 1.1 <CacheName>" to every response (RFC 9110 7.6.3),
	// after any Via the origin sent. Zero: no Via. It is not added to
	// origin requests: some origins stop compressing for proxied requests
	// (nginx's gzip_proxied), which would change what the cache stores.
	Via bool

	// MaxObjectSize is the largest body stored; larger responses stream
	// through uncached. Zero means DefaultMaxObjectSize.
	MaxObjectSize int64
	// FillBufferBytes bounds the body bytes held for the store by all
	// fills in flight together, whatever the number of clients: a fill that
	// would go beyond it streams to its client without being stored.
	// Zero means DefaultFillBufferBytes.
	FillBufferBytes int64
	// FillClientStall is how long a fill streaming to its client waits
	// for the client to take what it was given (one read of the origin's
	// body) before it stops keeping the body and frees its part of
	// FillBufferBytes: a client that stopped reading, or a dead peer whose
	// socket only times out after minutes, would otherwise hold it for as
	// long. A body of announced length, whose header said "stored", is
	// then cut for its client; one of unknown length goes on streaming.
	// Zero means DefaultFillClientStall.
	FillClientStall time.Duration
	// MaxHeaderBytes bounds a request's header (larger: 431) and a stored
	// response's header (larger: not stored). Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// OriginTimeout bounds the wait for the origin's response header (and
	// the body of a response being stored). Zero means DefaultOriginTimeout.
	OriginTimeout time.Duration
	// MaxTTL caps the lifetime of anything stored. Zero means DefaultMaxTTL.
	MaxTTL time.Duration
	// Keep is how long a response with a validator (ETag, Last-Modified)
	// stays stored after it went stale and its stale windows passed, to be
	// revalidated with a conditional request instead of fetched again; a
	// response stale on arrival (max-age=0, no-cache) is kept this long
	// too. Zero means DefaultKeep; negative keeps nothing past staleness.
	Keep time.Duration
	// EarlyRefreshBeta is the XFetch beta of early refresh (early.go): a
	// fresh hit refreshes its entry in the background, before it expires,
	// with a probability that grows as expiry nears, scaled by the entry's
	// fetch time times beta. A route's early_refresh_beta overrides it.
	// Zero means DefaultEarlyRefreshBeta; negative turns it off.
	EarlyRefreshBeta float64
	// Heuristic turns on heuristic freshness (RFC 9111 4.2.2): a response
	// without explicit freshness but with a Last-Modified and a
	// heuristically cacheable status is fresh for a tenth of the time since
	// it was last modified. Off (the zero value): such a response is only
	// stored to be revalidated on every use, as cachegate's contract says.
	Heuristic bool
	// TargetedFields are the RFC 9213 targeted cache-control fields whose
	// directives, when one is present and a valid Structured Field,
	// replace Cache-Control and Expires for the gateway's own storage and
	// freshness, first present wins. Nil means
	// headers.DefaultTargetedFields (Cachegate-Cache-Control, then
	// CDN-Cache-Control); empty means Cache-Control alone. Those that are
	// not a CDN's field (tagging.CDNControlHeaders) are the gateway's own
	// and are removed from every response.
	TargetedFields []string

	// ESITimeout bounds the fetch of one ESI fragment (esi.go); zero means
	// esi.DefaultTimeout. ESIMaxDepth is how deep includes may nest; zero
	// means esi.DefaultMaxDepth.
	ESITimeout  time.Duration
	ESIMaxDepth int

	// Warm configures warming after invalidations and on demand.
	Warm WarmConfig

	// Transport sends origin requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Stats counts hits and misses per layer; nil means a private recorder.
	Stats *stats.Recorder
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// AccessLog receives one line per client request (ServeHTTP); nil
	// means no access log.
	AccessLog *slog.Logger
	// AccessLogSample is the fraction (0 to 1) of requests the access log
	// keeps; server errors are always kept. Zero means every request.
	AccessLogSample float64
	// Metrics is where Prometheus metrics are registered; nil means none.
	Metrics prometheus.Registerer
}

// Validate reports every problem of c: what the assembly must wire (an
// origin, an L1) and, through ValidateSettings, the settings.
func (c Config) Validate() error {
	var errs []error
	if c.Origin == nil {
		errs = append(errs, errors.New("gateway: Origin is required"))
	}
	if c.L1 == nil {
		errs = append(errs, errors.New("gateway: L1 is required"))
	}
	if c.MaxTTL < 0 || c.LockTTL < 0 {
		errs = append(errs, errors.New("gateway: MaxTTL and LockTTL must not be negative"))
	}
	if c.FillBufferBytes < 0 {
		errs = append(errs, fmt.Errorf("gateway: FillBufferBytes %d is negative", c.FillBufferBytes))
	}
	if c.FillClientStall < 0 {
		errs = append(errs, fmt.Errorf("gateway: FillClientStall %v is negative", c.FillClientStall))
	}
	// The file's session_cookies reach the policy, whose check reports
	// them on their line; a Config built in code is held to the same rule.
	for _, name := range c.SessionCookies {
		if !policy.ValidCookieName(name) {
			errs = append(errs, fmt.Errorf("gateway: session cookie name %q is not a cookie name", name))
		}
	}
	return errors.Join(append(errs, c.ValidateSettings())...)
}

// ValidateSettings reports every problem of the settings a config file
// gives the gateway (an absent Origin is none: the assembly requires it),
// each a *setting.Error named as the file spells the setting, so that the
// loader places it on its line and no second copy of a rule lives there.
func (c Config) ValidateSettings() error {
	var errs []error
	bad := func(name, format string, a ...any) { errs = append(errs, setting.Errorf(name, format, a...)) }
	if c.Origin != nil {
		if err := checkOrigin(c.Origin); err != nil {
			bad("origin", "%v", err)
		}
	}
	if c.AccessLogSample < 0 || c.AccessLogSample > 1 {
		bad("log.access_sample", "%v must be a number from 0 to 1", c.AccessLogSample)
	}
	if c.MaxObjectSize < 0 {
		bad("limits.max_object_size", "%d is negative", c.MaxObjectSize)
	}
	if c.MaxHeaderBytes < 0 {
		bad("limits.max_header_bytes", "%d is negative", c.MaxHeaderBytes)
	}
	if c.OriginTimeout < 0 {
		bad("limits.origin_timeout", "%v must not be negative", c.OriginTimeout)
	}
	if math.IsNaN(c.EarlyRefreshBeta) || math.IsInf(c.EarlyRefreshBeta, 0) {
		bad("cache.early_refresh_beta", "%v is not a finite number", c.EarlyRefreshBeta)
	}
	if c.CacheName != "" {
		if err := CheckCacheName(c.CacheName); err != nil {
			bad("cache_name", "%v", err)
		}
	}
	if c.ServerHeader != nil {
		if err := CheckServerHeader(*c.ServerHeader); err != nil {
			bad("server_header", "%v", err)
		}
	}
	for i, name := range c.TargetedFields {
		if err := headers.CheckTargetedField(name); err != nil {
			bad(setting.Index("cache.targeted_fields", i), "%v", err)
		}
	}
	if c.ESITimeout < 0 {
		bad("esi.timeout", "%v must not be negative", c.ESITimeout)
	}
	if c.ESIMaxDepth < 0 || c.ESIMaxDepth > MaxESIDepth {
		bad("esi.max_depth", "%d must be from 0 (the default, %d) to %d", c.ESIMaxDepth, esi.DefaultMaxDepth, MaxESIDepth)
	}
	if c.L2Admission != "" && c.L2Admission != AdmitAlways && c.L2Admission != AdmitFrequent {
		bad("l2.admission", "%q must be %s or %s", c.L2Admission, AdmitAlways, AdmitFrequent)
	}
	errs = append(errs, c.Warm.ValidateSettings())
	return errors.Join(errs...)
}

// ParseOrigin parses an origin's base URL as Config.Origin takes it (the
// config file's origin is checked here too).
func ParseOrigin(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a password.
		return nil, errors.New("not a valid URL")
	}
	if err := checkOrigin(u); err != nil {
		return nil, err
	}
	return u, nil
}

func checkOrigin(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: URL scheme must be http or https, got %q", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: URL has no host", u.Redacted())
	}
	return nil
}

// CheckCacheName reports a cache name that cannot be written where the
// gateway writes it: first in Cache-Status, where it is an RFC 8941
// sf-token, and in Via as a received-by pseudonym, an RFC 9110 token. So a
// letter, then letters, digits and !#$%&'*+-.^_`|~ (the config file's
// cache_name is checked here too).
func CheckCacheName(name string) error {
	ok := name != "" && (name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z')
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
	}
	if !ok {
		return fmt.Errorf("%q must be a token starting with a letter (letters, digits, !#$%%&'*+-.^_`|~): it is written in Cache-Status and Via", name)
	}
	return nil
}

// CheckServerHeader reports a Server header value that would break the
// response's header block (the config file's server_header is checked
// here too).
func CheckServerHeader(v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%q must be one line without NUL", v)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.AccessLogSample == 0 {
		c.AccessLogSample = 1
	}
	if c.CacheName == "" {
		c.CacheName = DefaultCacheName
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = DefaultMaxObjectSize
	}
	if c.FillBufferBytes == 0 {
		c.FillBufferBytes = DefaultFillBufferBytes
	}
	if c.FillClientStall == 0 {
		c.FillClientStall = DefaultFillClientStall
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.OriginTimeout == 0 {
		c.OriginTimeout = DefaultOriginTimeout
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.LockTTL == 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.TargetedFields == nil {
		c.TargetedFields = headers.DefaultTargetedFields()
	}
	if c.Keep == 0 {
		c.Keep = DefaultKeep
	}
	if c.EarlyRefreshBeta == 0 {
		c.EarlyRefreshBeta = DefaultEarlyRefreshBeta
	}
	if c.SessionCookies == nil {
		c.SessionCookies = policy.DefaultSessionCookies()
	}
	if c.Policy == nil {
		c.Policy = DefaultPolicy{SessionCookies: c.SessionCookies}
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.Stats == nil {
		c.Stats = stats.New()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// DefaultPolicy is the behaviour without a policy engine: the tenant is the
// request's host, lower-cased, without port; a request with Authorization
// or one of SessionCookies is private; everything else follows the origin's
// headers. A host that is not a valid tenant name bypasses the cache.
type DefaultPolicy struct {
	SessionCookies []string
}

// Decide implements Policy.
func (p DefaultPolicy) Decide(r *http.Request) policy.Decision {
	d := policy.Decision{Rule: "default", Tenant: HostTenant(r.Host)}
	if invalidation.ValidateTenant(d.Tenant) != nil {
		d.Tenant, d.Bypass = "_invalid", true
		return d
	}
	if r.Header.Get("Authorization") != "" {
		d.Private, d.PrivateReason = true, "authorization"
		return d
	}
	if len(r.Header["Cookie"]) > 0 {
		for _, name := range p.SessionCookies {
			if _, err := r.Cookie(name); err == nil {
				d.Private, d.PrivateReason = true, "cookie:"+name
				return d
			}
		}
	}
	return d
}

// RequestHeaders names the request header fields Decide reads besides
// Host, Cookie and Authorization: none.
func (p DefaultPolicy) RequestHeaders() []string { return nil }

// HostTenant is the default tenant of a Host header: its canonical form
// (uri.Host), lower-cased, without port or trailing dot.
func HostTenant(host string) string { return uri.HostOrRaw(host) }
