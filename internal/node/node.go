package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/cdnstats"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/events/natsserver"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memcachestore"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/internal/h1"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/stats/statskv"
	"github.com/cachegate/cachegate/tokens"
	"github.com/cachegate/cachegate/web"
	"github.com/cachegate/cachegate/web/sessionkv"
)

// ShutdownTimeout bounds a graceful stop.
const ShutdownTimeout = 10 * time.Second

// Node is one running cachegate process: gateway, event instance and
// coordinator, purge dispatcher and admin listener, over one NATS
// connection.
type Node struct {
	file  *config.File
	log   *slog.Logger
	token string

	reg      *prometheus.Registry
	embedded *natsserver.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	rdb      redis.UniversalClient
	stats    *stats.Recorder

	gw         *gateway.Gateway
	l2Guard    *events.L2Guard
	publisher  *events.Publisher
	coord      *events.Coordinator
	instance   *events.Instance
	states     *purge.States
	queue      *purge.Queue
	dispatcher *purge.Dispatcher
	audit      *audit.Log
	tokens     *tokens.Store
	board      *statskv.Board
	web        *web.Server

	gwLn, adminLn net.Listener
	metricsLn     net.Listener // nil: /metrics only on the admin listener
	tmpDir        string
	closers       []func()
}

// New builds every part from f (already merged with flags and
// environment and validated) and binds the listeners, so that a bad address
// fails before anything runs.
func New(ctx context.Context, f *config.File, token string, logger *slog.Logger) (_ *Node, err error) {
	n := &Node{file: f, log: logger, token: token, reg: prometheus.NewRegistry(), stats: stats.New()}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := n.connectNATS(ctx); err != nil {
		return nil, err
	}
	if err := n.buildGateway(ctx); err != nil {
		return nil, err
	}
	if err := n.buildEvents(ctx); err != nil {
		return nil, err
	}
	if err := n.buildWeb(ctx); err != nil {
		return nil, err
	}
	if n.gwLn, n.adminLn, n.metricsLn, err = f.Listeners().Open(); err != nil {
		return nil, err
	}
	return n, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// connectNATS connects to the configured NATS server with its
// credentials, or starts the embedded one (natsserver: in-process only
// unless nats.embedded_listen is set) and connects in-process.
func (n *Node) connectNATS(ctx context.Context) error {
	cc := n.file.NATS.Conn()
	var extra []nats.Option
	if cc.URL == "" {
		dir := n.file.DataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "cachegate-")
			if err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			n.tmpDir, dir = tmp, tmp
		}
		emb, err := natsserver.Start(ctx, n.file.Embedded(dir))
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		n.embedded = emb
		if n.file.Redis.Enabled() {
			// A shared L2 means other instances; with a NATS of its own,
			// this one neither hears their invalidations nor sends them its
			// own, and they serve each other's stale L2 entries.
			n.log.Warn("EMBEDDED NATS WITH A SHARED REDIS: this instance is isolated from every other instance using that Redis; " +
				"they will not see each other's invalidations. Give every instance the same NATS (nats.url / CACHEGATE_NATS_URL), " +
				"see README, Running several instances")
		}
		cc = events.ConnConfig{URL: emb.ClientURL()}
		extra = emb.ClientOptions()
	}
	// Asynchronous errors (a permission violation, a slow consumer) would
	// otherwise go to stderr unformatted, or nowhere.
	extra = append(extra, nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		n.log.Warn("NATS error", "err", err, "subscription", subject)
	}))
	nc, err := events.Connect(ctx, cc, extra...)
	if err != nil {
		return err
	}
	n.nc = nc
	if n.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := events.Setup(ctx, n.js, n.file.NATS.Streams()); err != nil {
		return fmt.Errorf("event streams: %w", err)
	}
	if n.audit, err = audit.Open(ctx, n.js, audit.Options{Replicas: n.file.NATS.Replicas}); err != nil {
		return err
	}
	if n.tokens, err = tokens.Open(ctx, n.js, 0); err != nil {
		return err
	}
	return nil
}

func (n *Node) buildGateway(ctx context.Context) error {
	f := n.file
	l1, err := memstore.New(f.L1.Store())
	if err != nil {
		return fmt.Errorf("L1: %w", err)
	}
	cfg := f.Gateway()
	cfg.L1 = l1
	cfg.Stats, cfg.Logger, cfg.Metrics = n.stats, n.log.With("component", "gateway"), n.reg
	if f.Log.Access {
		cfg.AccessLog = n.log.With("component", "access")
	}
	pol, err := policy.Compile(f.Policy())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	cfg.Policy = pol
	if cfg.TagEmitter, err = tagEmitter(f, n.log.With("component", "tags"), n.reg); err != nil {
		return err
	}
	var l2 l2State
	switch {
	case f.Redis.Memcached():
		ms, err := memcachestore.New(f.Redis.MemcachedStore(), n.log.With("component", "memcached"))
		if err != nil {
			return fmt.Errorf("memcached: %w", err)
		}
		n.closers = append(n.closers, func() { _ = ms.Close() })
		// No FillLock: memcached cannot hold one (see memcachestore).
		l2, cfg.L2 = ms, ms
		n.l2Guard = events.NewL2Guard(0)
		cfg.L2Guard = n.l2Guard
		if err := ms.Ping(ctx); err != nil {
			n.log.Warn("memcached not reachable at start; serving from L1 and origin until it is", "err", err)
		}
	case f.Redis.Enabled():
		rc := f.Redis.Store()
		rdb, err := redisstore.NewClient(rc)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		n.rdb = rdb
		rs, err := redisstore.New(rdb, rc, n.log.With("component", "redis"))
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		l2, cfg.L2, cfg.FillLock = rs, rs, rs
		// The event instance fills it before the gateway serves.
		n.l2Guard = events.NewL2Guard(0)
		cfg.L2Guard = n.l2Guard
		// Not fatal: the gateway degrades to L1 + origin and recovers.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := rdb.Ping(pctx).Err(); err != nil {
			n.log.Warn("redis not reachable at start; serving from L1 and origin until it is", "err", err)
		}
		cancel()
	}
	if n.gw, err = gateway.New(cfg); err != nil {
		return err
	}
	for _, c := range n.stateMetrics(l1, l2) {
		if err := n.reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	return nil
}

func (n *Node) buildEvents(ctx context.Context) error {
	f := n.file
	var err error
	if n.states, err = purge.OpenStates(ctx, n.js, purge.StatesConfig{Replicas: f.NATS.Replicas}); err != nil {
		return fmt.Errorf("purge states: %w", err)
	}
	providers, err := buildProviders(f, n.log, n.reg)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(providers))
	for _, p := range providers {
		names = append(names, p.Purger.Name())
	}
	var queue events.PurgeQueue
	if len(providers) > 0 {
		if n.queue, err = purge.OpenQueue(ctx, n.js, n.states, purge.QueueConfig{Providers: names, Registerer: n.reg, Replicas: f.NATS.Replicas}); err != nil {
			return fmt.Errorf("purge queue: %w", err)
		}
		queue = n.queue
		dc := f.CDN.Dispatcher()
		dc.Providers, dc.Auditor, dc.Logger, dc.Registerer = providers, n.audit, n.log.With("component", "purge"), n.reg
		if n.dispatcher, err = purge.NewDispatcher(n.queue, dc); err != nil {
			return fmt.Errorf("purge dispatcher: %w", err)
		}
	}
	mapper, err := events.NewMapper(f.Events.Mapper())
	if err != nil {
		return fmt.Errorf("event rules: %w", err)
	}
	cc := events.CoordinatorConfig{
		Mapper:     mapper,
		States:     n.states,
		Audit:      n.audit,
		Regions:    f.Regions(),
		Logger:     n.log.With("component", "coordinator"),
		Registerer: n.reg,
	}
	if f.Redis.Enabled() {
		cc.Shared = n.gw
	}
	if queue != nil {
		cc.Queue = queue
	}
	if n.coord, err = events.NewCoordinator(n.js, cc); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if n.instance, err = events.NewInstance(n.js, n.gw, events.InstanceConfig{
		L2Guard: n.l2Guard, Logger: n.log.With("component", "instance"), Registerer: n.reg,
	}); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	// The admin API's and the edit hooks' publishes: during a leader
	// election a publish sent to the old leader gets no answer, and its
	// caller learns it was not accepted (to send again, deduplicated) in
	// two seconds rather than at the end of its whole wait.
	if n.publisher, err = events.NewPublisher(n.js, n.nc, events.PublisherConfig{AckTimeout: 2 * time.Second}); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	return nil
}

// buildWeb builds the admin server over the cluster's shared state: the
// instances' stats and the dashboard sessions live in JetStream buckets,
// so every instance's dashboard shows the whole cluster and a login
// works on all of them.
func (n *Node) buildWeb(ctx context.Context) error {
	var err error
	if n.board, err = statskv.Open(ctx, n.js, statskv.Config{
		Instance: n.instance.ID(), Source: n.stats.Snapshot, Logger: n.log.With("component", "stats"),
	}); err != nil {
		return err
	}
	sessions, err := sessionkv.Open(ctx, n.js, web.DefaultSessionTTL, web.DefaultMaxSessions)
	if err != nil {
		return err
	}
	adapters := &webAdapters{publisher: n.publisher, states: n.states, audit: n.audit, coord: n.coord,
		queue: n.queue, dispatcher: n.dispatcher}
	cfg := web.Config{
		Token:       n.token,
		Stats:       n.stats,
		Cluster:     n.board,
		CDNStats:    cdnstats.NewReader(0, n.file.CDN.Analytics()...),
		Instance:    n.instance.ID(),
		Region:      n.file.NATS.Region,
		Sessions:    sessions,
		RouteTTLs:   routeTTLs{n.gw},
		Events:      adapters,
		Purges:      adapters,
		Audit:       n.audit,
		DeadLetters: adapters,
		Gatherer:    n.reg,
		Registerer:  n.reg,
		Ready:       n.ready,
		Warm:        warmAdapter{gw: n.gw, audit: n.audit},
		Logger:      n.log.With("component", "admin"),
		Tokens:      n.tokens,
		Inspector:   inspector{n.gw},
		Version:     web.VersionInfo{Version: Version(), Revision: Revision(), Go: runtime.Version()},
	}
	if !n.file.Events.NoCoordinator {
		// A node that coordinates samples the events backlog; one that
		// does not has no figure to show.
		cfg.EventBacklog = adapters
	}
	// Without a CDN there is nothing to list, retry or report.
	if n.dispatcher != nil {
		cfg.FailedPurges, cfg.Backlog = adapters, adapters
	}
	s, err := web.New(cfg)
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	n.web = s
	return nil
}

// ready: the event bus is the one part without which invalidations stop.
func (n *Node) ready(ctx context.Context) error {
	if !n.nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	return nil
}

// GatewayAddr and AdminAddr are the addresses actually bound.
func (n *Node) GatewayAddr() string { return n.gwLn.Addr().String() }
func (n *Node) AdminAddr() string   { return n.adminLn.Addr().String() }

// MetricsAddr is the metrics listener's address; "" without one.
func (n *Node) MetricsAddr() string {
	if n.metricsLn == nil {
		return ""
	}
	return n.metricsLn.Addr().String()
}

// NATSURL is the URL other processes reach the event bus at: the
// standalone server's (without a password), or the embedded server's
// listener; "" for an embedded server without one (in-process only).
func (n *Node) NATSURL() string {
	if n.embedded != nil {
		return n.embedded.URL()
	}
	return n.nc.ConnectedUrlRedacted()
}

// NATSSeedFile is the nkey seed file other processes on this host
// authenticate to the embedded server's listener with; "" otherwise.
func (n *Node) NATSSeedFile() string {
	if n.embedded == nil {
		return ""
	}
	return n.embedded.SeedFile()
}

// Run serves until ctx is cancelled, then shuts everything down in order:
// listeners first (no new requests), then the event and purge loops.
func (n *Node) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(runCtx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	// The gateway listener is served by h1's lane, which answers simple
	// GET/HEAD requests without net/http's per-request work and hands
	// every other connection to this net/http server (issue 11).
	gwSrv := &h1.Server{Logger: n.log, Fallback: &http.Server{Handler: n.gw.Handler(), ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)}}
	adminSrv := &http.Server{Handler: n.web.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)}

	if err := n.instance.Start(runCtx); err != nil {
		n.Close()
		return fmt.Errorf("instance: %w", err)
	}
	if n.file.Events.NoCoordinator {
		// Gateway only: the instance above drops this node's L1 copies
		// when other nodes' coordinators broadcast; the coordinator is
		// opened for the dead-letter calls only.
		if err := n.coord.Open(runCtx); err != nil {
			n.Close()
			return fmt.Errorf("coordinator: %w", err)
		}
		n.log.Info("no event coordinator on this node (events.coordinator: false): other nodes on this NATS must run one, or events are not applied")
	} else if err := n.coord.Start(runCtx); err != nil {
		n.Close()
		return fmt.Errorf("coordinator: %w", err)
	}
	if n.dispatcher != nil {
		goRun("purge dispatcher", n.dispatcher.Run)
	}
	// The admin server's live streams end with web.Run: it is cancelled
	// first so that the admin listener's shutdown does not wait on them.
	webCtx, cancelWeb := context.WithCancel(runCtx)
	defer cancelWeb()
	wg.Add(1)
	go func() { defer wg.Done(); _ = n.web.Run(webCtx) }()
	goRun("stats board", n.board.Run)
	goRun("gateway server", func(context.Context) error { return gwSrv.Serve(n.gwLn) })
	goRun("admin server", func(context.Context) error { return adminSrv.Serve(n.adminLn) })
	var metricsSrv *http.Server
	if n.metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelDebug)}
		goRun("metrics server", func(context.Context) error { return metricsSrv.Serve(n.metricsLn) })
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	n.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer scancel()
	cancelWeb()
	_ = gwSrv.Shutdown(sctx)
	_ = adminSrv.Shutdown(sctx)
	if metricsSrv != nil {
		_ = metricsSrv.Shutdown(sctx)
	}
	cancel()
	wg.Wait()
	n.Close()
	return runErr
}

// Close releases everything New acquired; safe on a partial app.
func (n *Node) Close() {
	if n.coord != nil {
		_ = n.coord.Close()
	}
	if n.instance != nil {
		_ = n.instance.Close()
	}
	if n.gw != nil {
		_ = n.gw.Close()
	}
	for _, ln := range []net.Listener{n.gwLn, n.adminLn, n.metricsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if n.nc != nil {
		_ = n.nc.Drain()
		n.nc.Close()
	}
	if n.embedded != nil {
		n.embedded.Shutdown()
	}
	if n.rdb != nil {
		_ = n.rdb.Close()
	}
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	if n.tmpDir != "" {
		_ = os.RemoveAll(n.tmpDir)
	}
}

// Publisher publishes change events through this node's NATS connection.
func (n *Node) Publisher() *events.Publisher { return n.publisher }

// Gateway is this node's caching proxy.
func (n *Node) Gateway() *gateway.Gateway { return n.gw }

// Stats is this node's hit and miss counters.
func (n *Node) Stats() *stats.Recorder { return n.stats }

// Interface guards: the gateway is both layers the event instance and the
// coordinator invalidate, and the purge queue, state store and audit log
// are what the coordinator records through.
var (
	_ events.SharedInvalidator = (*gateway.Gateway)(nil)
	_ events.LocalInvalidator  = (*gateway.Gateway)(nil)
	_ events.PurgeQueue        = (*purge.Queue)(nil)
	_ events.StateRecorder     = (*purge.States)(nil)
	_ events.Auditor           = (*audit.Log)(nil)
)

// Coordinator is this node's event coordinator (LiveInstances, dead
// letters); with events.coordinator: false it is opened for the dead
// letters only, and takes no events.
func (n *Node) Coordinator() *events.Coordinator { return n.coord }
