package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/cachegate/cachegate/internal/requestid"
	"github.com/cachegate/cachegate/internal/setting"
	"github.com/cachegate/cachegate/internal/topk"
)

// Defaults for the zero values of WarmConfig.
const (
	DefaultWarmTopK       = 100
	DefaultWarmRate       = 10
	DefaultWarmOriginRate = 50
	DefaultWarmBurst      = 10
	// DefaultWarmTenants bounds the tenants tracked: tenants come from
	// requests, and nothing per request may grow without limit. A tracked
	// URL costs about 300 bytes, so the defaults bound tracking to about
	// 256 × 100 × 300 B ≈ 8 MB.
	DefaultWarmTenants = 256
)

// WarmConfig configures warming: after an invalidation, the most requested
// URLs that carried one of its tags are fetched again in the background,
// so the next reader finds them cached. On-demand warming (StartWarm)
// works whether or not Enabled is set, under the same rate limits.
type WarmConfig struct {
	// Enabled tracks the most requested URLs per tenant and warms them
	// after invalidations. Off (the zero value): no tracking, no cost on
	// the request path.
	Enabled bool
	// TopK is how many URLs are tracked per tenant (a Space-Saving
	// sketch: memory is TopK entries whatever the traffic); zero means
	// DefaultWarmTopK.
	TopK int
	// Rate bounds the refetches per second of one tenant; zero means
	// DefaultWarmRate.
	Rate float64
	// OriginRate bounds the refetches per second sent to the origin, all
	// tenants together; zero means DefaultWarmOriginRate.
	OriginRate float64
	// Burst is how many refetches may start at once within the rates;
	// zero means DefaultWarmBurst.
	Burst int
	// MaxTenants bounds the tenants tracked; requests of further tenants
	// are not tracked. Zero means DefaultWarmTenants.
	MaxTenants int
}

// ValidateSettings reports every problem of c, each named as the config
// file spells it.
func (c WarmConfig) ValidateSettings() error {
	var errs []error
	if c.TopK < 0 || c.TopK > 100000 {
		errs = append(errs, setting.Errorf("warm.top_k", "%d must be from 0 to 100000", c.TopK))
	}
	if c.Rate < 0 {
		errs = append(errs, setting.Errorf("warm.rate", "%v must not be negative", c.Rate))
	}
	if c.OriginRate < 0 {
		errs = append(errs, setting.Errorf("warm.origin_rate", "%v must not be negative", c.OriginRate))
	}
	if c.Burst < 0 {
		errs = append(errs, setting.Errorf("warm.burst", "%d must not be negative", c.Burst))
	}
	if c.MaxTenants < 0 {
		errs = append(errs, setting.Errorf("warm.max_tenants", "%d must not be negative", c.MaxTenants))
	}
	return errors.Join(errs...)
}

func (c WarmConfig) withDefaults() WarmConfig {
	if c.TopK == 0 {
		c.TopK = DefaultWarmTopK
	}
	if c.Rate == 0 {
		c.Rate = DefaultWarmRate
	}
	if c.OriginRate == 0 {
		c.OriginRate = DefaultWarmOriginRate
	}
	if c.Burst == 0 {
		c.Burst = DefaultWarmBurst
	}
	if c.MaxTenants == 0 {
		c.MaxTenants = DefaultWarmTenants
	}
	return c
}

// WarmStats counts warming's refetches since start.
type WarmStats struct {
	// Fetched: the origin was asked (the URL was not cached).
	Fetched uint64 `json:"fetched"`
	// Fresh: the URL was already cached (another instance warmed it).
	Fresh uint64 `json:"fresh"`
	// SkippedRate: not refetched after an invalidation, over a rate limit
	// (the next reader fetches it, as without warming).
	SkippedRate uint64 `json:"skipped_rate"`
	// SkippedPrivate: the URL's route is private or bypasses the cache.
	SkippedPrivate uint64 `json:"skipped_private"`
	// Failed: the origin failed or could not be reached.
	Failed uint64 `json:"failed"`
}

type warmCounters struct {
	fetched, fresh, skippedRate, skippedPrivate, failed atomic.Uint64
}

// hotURL is what a refetch needs of a tracked request: what the gateway
// keys on. Nothing of the client's credentials: only requests without any
// (never private) are tracked.
type hotURL struct {
	host, target, locale string
	// enc is the client's Accept-Encoding (normalized when sent), so the
	// variant clients ask for is the one warmed.
	enc  []string
	tags []string
}

// hotTenant tracks one tenant's most requested URLs and limits its rate.
type hotTenant struct {
	mu  sync.Mutex
	s   *topk.Sketch[hotURL]
	lim *rate.Limiter
}

// warmer owns warming: tracking, refetches after invalidations, and the
// on-demand jobs (warmjob.go).
type warmer struct {
	g       *Gateway
	cfg     WarmConfig
	tenants sync.Map // tenant -> *hotTenant
	ntenant atomic.Int64
	origin  *rate.Limiter
	counts  warmCounters
	jobs    warmJobs
	// ctx ends at Close: jobs waiting on a rate limit stop.
	ctx    context.Context
	cancel context.CancelFunc
}

func newWarmer(g *Gateway, cfg WarmConfig) *warmer {
	cfg = cfg.withDefaults()
	w := &warmer{g: g, cfg: cfg, origin: rate.NewLimiter(rate.Limit(cfg.OriginRate), cfg.Burst)}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// tenant returns tenant's tracker, making it (within MaxTenants) if make.
func (w *warmer) tenant(tenant string, make bool) *hotTenant {
	if t, ok := w.tenants.Load(tenant); ok {
		return t.(*hotTenant)
	}
	if !make || w.ntenant.Load() >= int64(w.cfg.MaxTenants) {
		return nil
	}
	t, loaded := w.tenants.LoadOrStore(tenant, &hotTenant{
		s: topk.New[hotURL](w.cfg.TopK), lim: rate.NewLimiter(rate.Limit(w.cfg.Rate), w.cfg.Burst),
	})
	if !loaded {
		w.ntenant.Add(1)
	}
	return t.(*hotTenant)
}

// observe counts a cacheable request answered from (or stored to) the
// cache with the entry's tags. It never waits: under contention the
// request is not counted, which a frequency sketch tolerates, and the hit
// path takes no lock another request holds.
func (w *warmer) observe(x *exchange, tags []string) {
	if !w.cfg.Enabled || x.obs == nil || x.obs.background {
		return
	}
	t := w.tenant(x.d.Tenant, true)
	if t == nil || !t.mu.TryLock() {
		return
	}
	t.s.Observe(x.key, hotURL{host: x.host, target: x.target, locale: x.locale, enc: x.req["Accept-Encoding"], tags: tags})
	t.mu.Unlock()
}

// afterInvalidate refetches, in the background, tenant's tracked URLs that
// carried one of tags (all of them for everything), most requested first,
// as far as the rate limits allow now: a URL over the limit is counted
// and left to its next reader, so no backlog builds up behind a burst of
// invalidations.
func (w *warmer) afterInvalidate(tenant string, tags []string, everything bool) {
	if !w.cfg.Enabled || w.g.closed.Load() {
		return
	}
	t := w.tenant(tenant, false)
	if t == nil {
		return
	}
	t.mu.Lock()
	top := t.s.Top(0, func(_ string, u hotURL) bool {
		return everything || slices.ContainsFunc(u.tags, func(tag string) bool { return slices.Contains(tags, tag) })
	})
	t.mu.Unlock()
	var todo []hotURL
	for _, it := range top {
		if !w.allow(t) {
			w.counts.skippedRate.Add(1)
			continue
		}
		todo = append(todo, it.Value)
	}
	if len(todo) == 0 {
		return
	}
	w.g.bg.Add(1)
	go func() {
		defer w.g.bg.Done()
		for _, u := range todo {
			if w.ctx.Err() != nil {
				return
			}
			w.count(w.fetch(w.ctx, tenant, u))
		}
	}()
}

// allow takes a token of the tenant's limit and of the origin's, or
// neither.
func (w *warmer) allow(t *hotTenant) bool {
	rt := t.lim.Reserve()
	if !rt.OK() || rt.Delay() > 0 {
		rt.Cancel()
		return false
	}
	ro := w.origin.Reserve()
	if !ro.OK() || ro.Delay() > 0 {
		ro.Cancel()
		rt.Cancel()
		return false
	}
	return true
}

// Warm outcomes.
const (
	warmFetched = "fetched"
	warmFresh   = "fresh"
	warmPrivate = "skipped_private"
	warmFailed  = "failed"
)

func (w *warmer) count(outcome string) {
	switch outcome {
	case warmFetched:
		w.counts.fetched.Add(1)
	case warmFresh:
		w.counts.fresh.Add(1)
	case warmPrivate:
		w.counts.skippedPrivate.Add(1)
	default:
		w.counts.failed.Add(1)
	}
}

// fetch requests u of tenant through the gateway's own cache path, as a
// client without credentials would: a miss fills every layer under the
// fill lock, a hit (another instance warmed it) does nothing. A URL whose
// route is private or bypasses the cache is not requested at all.
func (w *warmer) fetch(ctx context.Context, tenant string, u hotURL) string {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.host+u.target, nil)
	if err != nil {
		return warmFailed
	}
	r.Host, r.RequestURI = u.host, u.target
	if u.locale != "" {
		r.Header.Set("Accept-Language", u.locale)
	}
	if len(u.enc) > 0 {
		r.Header["Accept-Encoding"] = u.enc
	}
	d := w.g.cfg.Policy.Decide(r)
	if d.Private || d.Bypass || d.Tenant != tenant {
		return warmPrivate
	}
	rw := &warmWriter{}
	obs := &observation{id: []string{requestid.New()}, background: true}
	w.g.serve(rw, r, obs)
	switch cs := rw.Header().Get("Cache-Status"); {
	case rw.status == 0 || rw.status >= 500:
		return warmFailed
	case strings.Contains(cs, "; hit"):
		return warmFresh
	default:
		return warmFetched
	}
}

// stats returns the counters.
func (w *warmer) stats() WarmStats {
	c := &w.counts
	return WarmStats{
		Fetched: c.fetched.Load(), Fresh: c.fresh.Load(), SkippedRate: c.skippedRate.Load(),
		SkippedPrivate: c.skippedPrivate.Load(), Failed: c.failed.Load(),
	}
}

// register exports the counters as cachegate_warm_total{outcome}.
func (w *warmer) register(reg prometheus.Registerer) error {
	c := &w.counts
	return registerCounts(reg, "cachegate_warm_total",
		"Warming's refetches by outcome: fetched from the origin, fresh (already cached), skipped (rate limit, private route), failed.",
		"outcome", map[string]*atomic.Uint64{
			warmFetched: &c.fetched, warmFresh: &c.fresh, "skipped_rate": &c.skippedRate,
			warmPrivate: &c.skippedPrivate, warmFailed: &c.failed,
		})
}

// WarmStats returns what warming did since start.
func (g *Gateway) WarmStats() WarmStats { return g.warm.stats() }

// warmWriter is the client of a refetch: it keeps the status and header.
type warmWriter struct {
	h      http.Header
	status int
}

func (d *warmWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *warmWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}
func (d *warmWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}
