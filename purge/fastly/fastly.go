package fastly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/purge"
)

// Defaults of Config's zero values: Fastly's documented limits.
const (
	DefaultName         = "fastly"
	DefaultBaseURL      = "https://api.fastly.com"
	DefaultKeysPerCall  = cdn.FastlyPurgeKeysPerCall
	DefaultMaxKeyLength = cdn.FastlyMaxKeyBytes
	DefaultTimeout      = 30 * time.Second
	// maxBody bounds how much of an answer is read.
	maxBody = 1 << 20
)

// Config configures a Purger.
type Config struct {
	// APIToken is sent in Fastly-Key. Required; never logged.
	APIToken string
	// BaseURL is the API's base URL; empty means DefaultBaseURL.
	BaseURL string
	// HTTPClient makes the calls; nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// Name is the provider's name in states and metrics; empty means
	// DefaultName.
	Name string
	// Limits override the documented ones field by field; zero fields
	// keep the defaults. Fastly has no prefix or host purge: the
	// dispatcher turns those into the tags every response carries.
	Limits purge.Limits
	// Logger; nil discards.
	Logger *slog.Logger
}

// Validate reports every problem of c, each a *setting.Error named as
// the config file's cdn.fastly section spells the setting.
func (c Config) Validate() error {
	var errs []error
	if c.APIToken == "" {
		errs = append(errs, setting.Errorf("api_token", "an API token with the purge_select scope is required"))
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
	if c.Limits.TagsPerCall < 0 || c.Limits.MaxTagLength < 0 || c.Limits.URLsPerCall < 0 {
		errs = append(errs, setting.Errorf("limits", "negative limit"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fastly: %w", err)
	}
	return nil
}

// Purger purges Fastly services.
type Purger struct {
	base   string
	token  string
	hc     *http.Client
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
	p := &Purger{
		base: strings.TrimRight(cfg.BaseURL, "/"), token: cfg.APIToken, hc: cfg.HTTPClient,
		name: cfg.Name, log: cfg.Logger,
		limits: purge.Limits{TagsPerCall: DefaultKeysPerCall, URLsPerCall: 1, MaxTagLength: DefaultMaxKeyLength},
	}
	if p.base == "" {
		p.base = DefaultBaseURL
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if p.name == "" {
		p.name = DefaultName
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Limits.TagsPerCall > 0 {
		p.limits.TagsPerCall = cfg.Limits.TagsPerCall
	}
	if cfg.Limits.MaxTagLength > 0 {
		p.limits.MaxTagLength = cfg.Limits.MaxTagLength
	}
	return p, nil
}

// Name implements purge.Purger.
func (p *Purger) Name() string { return p.name }

// Limits implements purge.Purger.
func (p *Purger) Limits() purge.Limits { return p.limits }

// Purge sends b: purge_all, the keys (one call per 256), then each URL.
func (p *Purger) Purge(ctx context.Context, b purge.Batch) error {
	if len(b.Prefixes) > 0 || len(b.Hosts) > 0 {
		return fmt.Errorf("%w: fastly: no prefix or host purge", purge.ErrPermanent)
	}
	if (b.Everything || len(b.Tags) > 0) && b.Zone == "" {
		return fmt.Errorf("%w: fastly: batch has no service id", purge.ErrPermanent)
	}
	svc := "/service/" + url.PathEscape(b.Zone)
	if b.Everything {
		if err := p.do(ctx, svc+"/purge_all", nil, b.Soft, checkStatusOK); err != nil {
			return err
		}
	}
	for start := 0; start < len(b.Tags); start += p.limits.TagsPerCall {
		keys := b.Tags[start:min(start+p.limits.TagsPerCall, len(b.Tags))]
		for _, k := range keys {
			if len(k) == 0 || len(k) > p.limits.MaxTagLength {
				return fmt.Errorf("%w: fastly: surrogate key of %d bytes (1 to %d)", purge.ErrPermanent, len(k), p.limits.MaxTagLength)
			}
		}
		var err error
		if len(keys) == 1 {
			err = p.do(ctx, svc+"/purge/"+url.PathEscape(keys[0]), nil, b.Soft, checkStatusOK)
		} else {
			body, _ := json.Marshal(map[string][]string{"surrogate_keys": keys})
			err = p.do(ctx, svc+"/purge", body, b.Soft, checkKeyIDs(keys))
		}
		if err != nil {
			return err
		}
	}
	for _, raw := range b.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			// Fastly needs the host to find the object (PITFALLS 6).
			return fmt.Errorf("%w: fastly: URL %q has no host", purge.ErrPermanent, raw)
		}
		if err := p.do(ctx, "/purge/"+u.Host+u.EscapedPath()+queryOf(u), nil, b.Soft, checkStatusOK); err != nil {
			return err
		}
	}
	return nil
}

func queryOf(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// checkStatusOK accepts Fastly's {"status": "ok", "id": ...}.
func checkStatusOK(body []byte) error {
	var v struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("unreadable answer: %w", err)
	}
	if v.Status != "ok" {
		return fmt.Errorf("answer status %q, not ok", v.Status)
	}
	return nil
}

// checkKeyIDs accepts the batch answer, a purge id per key.
func checkKeyIDs(keys []string) func([]byte) error {
	return func(body []byte) error {
		var ids map[string]string
		if err := json.Unmarshal(body, &ids); err != nil {
			return fmt.Errorf("unreadable answer: %w", err)
		}
		for _, k := range keys {
			if ids[k] == "" {
				return fmt.Errorf("no purge id for key %q", k)
			}
		}
		return nil
	}
}

func (p *Purger) do(ctx context.Context, path string, body []byte, soft bool, check func([]byte) error) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, rd)
	if err != nil {
		return fmt.Errorf("%w: fastly: %s: %w", purge.ErrPermanent, path, err)
	}
	req.Header.Set("Fastly-Key", p.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if soft {
		req.Header.Set("Fastly-Soft-Purge", "1")
	}
	start := time.Now()
	res, err := p.hc.Do(req)
	if err != nil {
		p.log.Debug("fastly purge call", "path", path, "elapsed", time.Since(start), "err", err)
		return fmt.Errorf("fastly: %s: %w", path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	p.log.Debug("fastly purge call", "path", path, "status", res.StatusCode, "elapsed", time.Since(start))
	if err != nil {
		return fmt.Errorf("fastly: %s: HTTP %d: reading answer: %w", path, res.StatusCode, err)
	}
	switch s := res.StatusCode; {
	case s == http.StatusTooManyRequests:
		return &purge.RetryAfterError{
			After: retryAfter(res.Header.Get("Retry-After")),
			Err:   fmt.Errorf("fastly: %s: HTTP 429: %s", path, detail(data)),
		}
	case s >= 500 || s == http.StatusRequestTimeout:
		return fmt.Errorf("fastly: %s: HTTP %d: %s", path, s, detail(data))
	case s >= 400:
		return fmt.Errorf("%w: fastly: %s: HTTP %d: %s", purge.ErrPermanent, path, s, detail(data))
	case s < 200 || s > 299:
		return fmt.Errorf("fastly: %s: unexpected HTTP %d", path, s)
	}
	if err := check(data); err != nil {
		return fmt.Errorf("fastly: %s: HTTP %d: %w", path, res.StatusCode, err)
	}
	return nil
}

// detail is the msg/detail of Fastly's error body, or a bounded excerpt.
func detail(body []byte) string {
	var e struct {
		Msg    string `json:"msg"`
		Detail string `json:"detail"`
	}
	if json.Unmarshal(body, &e) == nil && e.Msg != "" {
		if e.Detail != "" {
			return e.Msg + ": " + e.Detail
		}
		return e.Msg
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strconv.Quote(string(body))
}

// maxRetryAfter bounds a parsed Retry-After.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses Retry-After in seconds or as an HTTP date; 0 when
// absent or unreadable.
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
