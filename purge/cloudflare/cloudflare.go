package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/purge"
	"github.com/cloudflare/cloudflare-go/v7/cache"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/cachegate/cachegate/cdn"
)

// Defaults of Config's zero values: Cloudflare's documented per-request
// limits.
const (
	DefaultName         = "cloudflare"
	DefaultBaseURL      = "https://api.cloudflare.com/client/v4/"
	DefaultItemsPerCall = cdn.CloudflarePurgeItemsPerCall
	DefaultMaxTagLength = cdn.CloudflareMaxTagBytes
	DefaultTimeout      = 30 * time.Second
)

// Config configures a Purger.
type Config struct {
	// APIToken is a token with the Cache Purge permission. Required;
	// never logged.
	APIToken string
	// BaseURL is the API's base URL; empty means DefaultBaseURL.
	BaseURL string
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Name is the provider's name in states and metrics; empty means
	// DefaultName.
	Name string
	// Limits override the documented ones field by field (e.g. 30 URLs
	// per call on the Free plan); zero fields keep the defaults.
	Limits purge.Limits
	// Logger; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c, each a *setting.Error named as
// the config file's cdn.cloudflare section spells the setting.
func (c Config) Validate() error {
	var errs []error
	if c.APIToken == "" {
		errs = append(errs, setting.Errorf("api_token", "an API token with the Cache Purge permission is required"))
	}
	if c.Name != "" {
		if err := purge.ValidateTarget(c.Name); err != nil {
			errs = append(errs, &setting.Error{Field: "name", Err: err})
		}
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, setting.Errorf("base_url", "%q is not an http(s) URL", c.BaseURL))
		}
	}
	l := c.Limits
	if l.TagsPerCall < 0 || l.URLsPerCall < 0 || l.PrefixesPerCall < 0 || l.HostsPerCall < 0 || l.MaxTagLength < 0 {
		errs = append(errs, setting.Errorf("limits", "negative limit"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cloudflare: %w", err)
	}
	return nil
}

// CheckZoneID reports a zone ID that is not one: 32 lower-case hex digits,
// as on the zone's overview page (the config file's zones are checked
// here).
func CheckZoneID(id string) error {
	ok := len(id) == 32
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
	}
	if !ok {
		return fmt.Errorf("zone id %q must be 32 lower-case hex digits (the zone's ID on its overview page)", id)
	}
	return nil
}

// Purger purges a Cloudflare account's zones.
type Purger struct {
	svc    *cache.CacheService
	name   string
	limits purge.Limits
	log    *slog.Logger
}

var _ purge.Purger = (*Purger)(nil)

// New returns a Purger.
func New(cfg Config) (*Purger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	name := cfg.Name
	if name == "" {
		name = DefaultName
	}
	lim := purge.Limits{
		TagsPerCall: DefaultItemsPerCall, URLsPerCall: DefaultItemsPerCall,
		PrefixesPerCall: DefaultItemsPerCall, HostsPerCall: DefaultItemsPerCall,
		MaxTagLength: DefaultMaxTagLength,
	}
	over := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	over(&lim.TagsPerCall, cfg.Limits.TagsPerCall)
	over(&lim.URLsPerCall, cfg.Limits.URLsPerCall)
	over(&lim.PrefixesPerCall, cfg.Limits.PrefixesPerCall)
	over(&lim.HostsPerCall, cfg.Limits.HostsPerCall)
	over(&lim.MaxTagLength, cfg.Limits.MaxTagLength)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := cache.NewCacheService(
		option.WithAPIToken(cfg.APIToken),
		option.WithBaseURL(base),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0),
	)
	return &Purger{svc: svc, name: name, limits: lim, log: log}, nil
}

// Name implements purge.Purger.
func (p *Purger) Name() string { return p.name }

// Limits implements purge.Purger.
func (p *Purger) Limits() purge.Limits { return p.limits }

// Purge sends one call per kind of target in b (the API takes one kind
// per request; the dispatcher's batches carry one).
func (p *Purger) Purge(ctx context.Context, b purge.Batch) error {
	if b.Zone == "" {
		return fmt.Errorf("%w: cloudflare: batch has no zone", purge.ErrPermanent)
	}
	// The SDK's param.Field is internal (its F helper lives in the root
	// package we do not import), so fields are set by hand.
	var bodies []cache.CachePurgeParamsBodyUnion
	if b.Everything {
		var v cache.CachePurgeParamsBodyCachePurgeEverything
		v.PurgeEverything.Value, v.PurgeEverything.Present = true, true
		bodies = append(bodies, v)
	}
	if len(b.Tags) > 0 {
		var v cache.CachePurgeParamsBodyCachePurgeFlexPurgeByTags
		v.Tags.Value, v.Tags.Present = b.Tags, true
		bodies = append(bodies, v)
	}
	if len(b.Hosts) > 0 {
		var v cache.CachePurgeParamsBodyCachePurgeFlexPurgeByHostnames
		v.Hosts.Value, v.Hosts.Present = b.Hosts, true
		bodies = append(bodies, v)
	}
	if len(b.Prefixes) > 0 {
		var v cache.CachePurgeParamsBodyCachePurgeFlexPurgeByPrefixes
		v.Prefixes.Value, v.Prefixes.Present = b.Prefixes, true
		bodies = append(bodies, v)
	}
	if len(b.URLs) > 0 {
		var v cache.CachePurgeParamsBodyCachePurgeSingleFile
		v.Files.Value, v.Files.Present = b.URLs, true
		bodies = append(bodies, v)
	}
	if len(bodies) == 0 {
		return nil
	}
	for _, body := range bodies {
		if err := p.call(ctx, b.Zone, body); err != nil {
			return err
		}
	}
	return nil
}

// envelope is the v4 API's answer, read by the package because the SDK
// returns no error for HTTP 200 with "success": false.
type envelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result *struct {
		ID string `json:"id"`
	} `json:"result"`
}

func (e envelope) describe() string {
	if len(e.Errors) == 0 {
		return "no error given"
	}
	parts := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		parts[i] = fmt.Sprintf("code %d: %s", x.Code, x.Message)
	}
	return strings.Join(parts, "; ")
}

func (p *Purger) call(ctx context.Context, zone string, body cache.CachePurgeParamsBodyUnion) error {
	var (
		res *http.Response
		env envelope
	)
	start := time.Now()
	params := cache.CachePurgeParams{Body: body}
	params.ZoneID.Value, params.ZoneID.Present = zone, true
	_, err := p.svc.Purge(ctx, params, option.WithResponseInto(&res), option.WithResponseBodyInto(&env))
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	p.log.Debug("cloudflare purge call", "zone", zone, "status", status, "elapsed", time.Since(start), "err", err)
	switch {
	case res == nil && err != nil:
		if ctx.Err() != nil {
			return fmt.Errorf("cloudflare: zone %s: %w", zone, ctx.Err())
		}
		return fmt.Errorf("cloudflare: zone %s: %w", zone, err)
	case status == http.StatusTooManyRequests:
		return &purge.RetryAfterError{
			After: retryAfter(res.Header.Get("Retry-After")),
			Err:   fmt.Errorf("cloudflare: zone %s: HTTP 429: %s", zone, apiDetail(err)),
		}
	case status >= 500 || status == http.StatusRequestTimeout:
		return fmt.Errorf("cloudflare: zone %s: HTTP %d: %s", zone, status, apiDetail(err))
	case status >= 400:
		return fmt.Errorf("%w: cloudflare: zone %s: HTTP %d: %s", purge.ErrPermanent, zone, status, apiDetail(err))
	case err != nil:
		return fmt.Errorf("cloudflare: zone %s: HTTP %d: unreadable answer: %w", zone, status, err)
	case !env.Success:
		// Retrying may help or not; the retry budget bounds it and the
		// reason stays visible on the failed purge.
		return fmt.Errorf("cloudflare: zone %s: HTTP %d with success false: %s", zone, status, env.describe())
	}
	return nil
}

// apiDetail is the error list of an SDK API error, without the request.
func apiDetail(err error) string {
	var ae *cache.Error
	if errors.As(err, &ae) {
		if len(ae.Errors) == 0 {
			return "no error given"
		}
		parts := make([]string, len(ae.Errors))
		for i, x := range ae.Errors {
			parts[i] = fmt.Sprintf("code %d: %s", x.Code, x.Message)
		}
		return strings.Join(parts, "; ")
	}
	if err != nil {
		return "unreadable error body"
	}
	return "no error given"
}

// maxRetryAfter bounds a parsed Retry-After.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses Retry-After in seconds or as an HTTP date; 0 when
// absent or unreadable (the dispatcher then backs off on its own).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		// Bounded before converting: a huge or infinite value would
		// overflow the Duration; the dispatcher caps it further.
		if math.IsNaN(s) || s <= 0 {
			return 0
		}
		return time.Duration(min(s, maxRetryAfter.Seconds()) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
