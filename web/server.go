package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of Config's zero values.
const (
	DefaultSampleInterval = 5 * time.Second
	DefaultHistoryWindow  = time.Hour
	DefaultLiveInterval   = time.Second
	DefaultSessionTTL     = 12 * time.Hour
	DefaultMaxSessions    = 1000
	DefaultWaitTimeout    = 30 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxSeries      = 12
	// MinTokenLength is the shortest admin token accepted.
	MinTokenLength = 16
)

// Config configures a Server. Only Token and Stats are required; a nil
// dependency makes the endpoints that need it answer 503 "not configured".
type Config struct {
	// Token is the admin token: Authorization: Bearer <Token>, and the
	// dashboard's login. At least MinTokenLength characters.
	Token string
	Stats StatsSource
	// Cluster gives the other instances' stats, so that /api/v1/stats,
	// the history and the dashboard show the whole cluster; nil = this
	// instance only.
	Cluster ClusterStats
	// CDNStats backs GET /api/v1/cdn/stats and the dashboard's CDN hit
	// ratio; nil = "not configured".
	CDNStats CDNStats
	// Instance names this instance in the cluster's stats; "" = "local".
	Instance string
	// Region is this instance's region when several regions share events
	// (nats.region); "" = one region. An answer that says "applied" then
	// says it holds in this region: the others apply it later.
	Region string
	// RouteTTLs backs GET /api/v1/routes/ttl; nil lists none.
	RouteTTLs RouteTTLSource
	// Events backs POST /api/v1/events; nil = 503.
	Events EventSubmitter
	// Purges backs POST /api/v1/purge and GET /api/v1/purges/<id>; nil = 503.
	Purges Purger
	// Warm backs POST /api/v1/warm and GET /api/v1/warm/<id>; nil = 503.
	Warm Warmer
	// FailedPurges backs GET /api/v1/purges?status=failed and POST
	// /api/v1/purges/<id>/retry and /dismiss; nil = 503.
	FailedPurges FailedPurges
	// EventBacklog adds the invalidation backlog to /readyz and the dashboard;
	// nil shows none.
	EventBacklog EventBacklog
	// Backlog adds the CDN purge backlog to /readyz and the failed-purge
	// listing; nil = no CDN, not shown.
	Backlog PurgeBacklog
	// Audit backs GET /api/v1/audit; nil = 503.
	Audit AuditReader
	// DeadLetters backs /api/v1/deadletters; nil = 503.
	DeadLetters DeadLetterStore
	// Tokens are the publish-only tenant tokens, and back /api/v1/tokens;
	// nil = only the admin token is accepted, and those endpoints 503.
	Tokens TokenStore
	// Inspector backs /api/v1/inspect and /api/v1/keys; nil = 503.
	Inspector Inspector
	// Version is served at /api/v1/version.
	Version VersionInfo
	// Gatherer is served at /metrics; nil = an empty registry (plus
	// Registerer's metrics when Registerer is a Gatherer too).
	Gatherer prometheus.Gatherer
	// Registerer receives web's own metrics; nil = none.
	Registerer prometheus.Registerer
	// Ready is /readyz's check; nil = always ready. Its error message is
	// shown unauthenticated, so it must carry no secret.
	Ready func(ctx context.Context) error
	// Logger; nil = discard.
	Logger *slog.Logger

	// SampleInterval is the width of one history bucket; 0 = 5s.
	SampleInterval time.Duration
	// HistoryWindow is how far back the history goes; 0 = 1h.
	HistoryWindow time.Duration
	// LiveInterval is how often live figures are pushed to dashboards; 0 = 1s.
	LiveInterval time.Duration
	// MaxSeries bounds the tenants and the routes that get a history
	// series each (the busiest ones); 0 = 12.
	MaxSeries int
	// Sessions keeps dashboard logins; nil = this instance's memory,
	// bounded by MaxSessions (a login then works on this instance only).
	Sessions SessionStore
	// SessionTTL is how long a dashboard login lasts; 0 = 12h.
	SessionTTL time.Duration
	// MaxSessions bounds live dashboard sessions, the oldest going first;
	// 0 = 1000.
	MaxSessions int
	// SecureCookies forces the Secure attribute on the session cookie, for
	// a listener behind a TLS-terminating proxy; 0 = Secure only when the
	// request came over TLS.
	SecureCookies bool
	// WaitTimeout bounds ?wait=1 calls; 0 = 30s.
	WaitTimeout time.Duration
	// MaxBodyBytes bounds request bodies; 0 = 1 MiB.
	MaxBodyBytes int64
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if len(c.Token) < MinTokenLength {
		return fmt.Errorf("web: admin token must be at least %d characters", MinTokenLength)
	}
	if c.Stats == nil {
		return errors.New("web: Stats is required")
	}
	for name, d := range map[string]time.Duration{
		"SampleInterval": c.SampleInterval, "HistoryWindow": c.HistoryWindow,
		"LiveInterval": c.LiveInterval, "SessionTTL": c.SessionTTL, "WaitTimeout": c.WaitTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("web: %s must not be negative", name)
		}
	}
	if c.MaxSeries < 0 || c.MaxSessions < 0 || c.MaxBodyBytes < 0 {
		return errors.New("web: MaxSeries, MaxSessions and MaxBodyBytes must not be negative")
	}
	if c.HistoryWindow > 0 && c.SampleInterval > 0 && c.HistoryWindow < c.SampleInterval {
		return errors.New("web: HistoryWindow must be at least one SampleInterval")
	}
	return nil
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SampleInterval, DefaultSampleInterval)
	def(&c.HistoryWindow, DefaultHistoryWindow)
	def(&c.LiveInterval, DefaultLiveInterval)
	def(&c.SessionTTL, DefaultSessionTTL)
	def(&c.WaitTimeout, DefaultWaitTimeout)
	if c.MaxSeries == 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Sessions == nil {
		c.Sessions = newMemSessions(c.MaxSessions)
	}
	if c.Instance == "" {
		c.Instance = "local"
	}
}

// Server is the admin listener's handler and its background sampler.
type Server struct {
	cfg       Config
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	sessions  *sessions
	throttle  *throttle
	history   *history
	prefixes  *prefixWindow
	live      *liveFeed
	metrics   *metrics
	handler   http.Handler
	// routes are the API's patterns, as registered (the dashboard's are
	// not part of the API): what the OpenAPI document must describe.
	routes []string
	// publishable are the API routes ("METHOD /echo/path") a publish-only
	// tenant token may call.
	publishable map[string]bool
}

// New checks cfg and returns a Server. Call Run to sample history.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		log:       log,
		tokenHash: sha256.Sum256([]byte(cfg.Token)),
		sessions:  &sessions{store: cfg.Sessions, ttl: cfg.SessionTTL},
		throttle:  newThrottle(),
		history:   newHistory(int(cfg.HistoryWindow/cfg.SampleInterval), cfg.MaxSeries),
		prefixes:  newPrefixWindow(int(cfg.HistoryWindow / cfg.SampleInterval)),
		live:      newLiveFeed(),
		metrics:   m,
	}
	s.register()
	return s, nil
}

// Routes are the API's route patterns ("GET /api/v1/stats"), in the order
// registered; the dashboard's pages are not among them.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// Handler serves the admin API and the dashboard.
func (s *Server) Handler() http.Handler { return s.handler }

// Run samples the stats into the history and the live feed until ctx ends.
// When it returns, open live streams end too: cancel Run's context before
// shutting the listener down gracefully. A Server runs Run once.
func (s *Server) Run(ctx context.Context) error {
	live := time.NewTicker(s.cfg.LiveInterval)
	defer live.Stop()
	defer s.live.stop()
	s.tick(ctx, time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-live.C:
			s.tick(ctx, now)
		}
	}
}

// tick takes one snapshot of the cluster, publishes the live figures and
// closes a history bucket when one is due.
func (s *Server) tick(ctx context.Context, now time.Time) {
	snap := s.clusterSnapshot(ctx).Snapshot
	sample, ok := s.history.observe(snap, s.cfg.SampleInterval)
	if ok {
		s.prefixes.mark(snap)
	}
	s.live.publish(s.history.live(snap), sample, ok)
	s.sessions.expire(now)
}

// register builds the routes. An API endpoint is one line here: its
// pattern (as OpenAPI and the metrics name it) and its handler; the API
// group's middleware authenticates it.
func (s *Server) register() {
	rt := s.newRouter()
	api := func(pattern string, h handlerFunc) {
		s.routes = append(s.routes, pattern)
		rt.add(rt.api, pattern, wrap(h))
	}
	public := func(pattern string, h handlerFunc) {
		s.routes = append(s.routes, pattern)
		rt.add(nil, pattern, wrap(h))
	}
	public("GET /healthz", s.healthz)
	public("GET /readyz", s.readyz)
	s.routes = append(s.routes, "GET /metrics")
	rt.add(nil, "GET /metrics", echo.WrapHandler(s.metricsHandler()), s.protected(s.cfg.MaxBodyBytes)...)
	api("GET /api/v1/openapi.json", s.openAPI)

	api("GET /api/v1/stats", s.getStats)
	api("GET /api/v1/health/prefix", s.prefixHealth)
	api("GET /api/v1/cdn/stats", s.getCDNStats)
	api("GET /api/v1/history", s.getHistory)
	api("GET /api/v1/routes/ttl", s.getRouteTTLs)
	api("GET /api/v1/stream", s.stream)
	api("POST /api/v1/purge", s.postPurge)
	api("GET /api/v1/purges", s.listPurges)
	api("GET /api/v1/purges/{id}", s.getPurge)
	api("POST /api/v1/purges/{id}/retry", s.retryPurge)
	api("POST /api/v1/purges/{id}/dismiss", s.dismissPurge)
	s.publishable = map[string]bool{"POST /api/v1/events": true}
	api("POST /api/v1/events", s.postEvent)
	api("POST /api/v1/warm", s.postWarm)
	api("GET /api/v1/warm/{id}", s.getWarm)
	api("GET /api/v1/audit", s.getAudit)
	api("GET /api/v1/deadletters", s.getDeadLetters)
	api("POST /api/v1/deadletters/{seq}/retry", s.retryDeadLetter)
	s.tokenRoutes(api)
	s.opsRoutes(api)

	s.dashboardRoutes(rt)
	s.handler = rt.e
}

func (s *Server) metricsHandler() http.Handler {
	g := s.cfg.Gatherer
	if g == nil {
		if rg, ok := s.cfg.Registerer.(prometheus.Gatherer); ok {
			g = rg
		} else {
			g = prometheus.NewRegistry()
		}
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
}
