package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/web"
)

// Defaults of the listeners, as the contract fixes them.
const (
	defaultListen      = "127.0.0.1:8080"
	defaultAdminListen = "127.0.0.1:9090"
	shutdownTimeout    = 10 * time.Second
)

// app is one running cachegate process: gateway, event instance and
// coordinator, purge dispatcher and admin listener, over one NATS
// connection.
type app struct {
	file  *config.File
	log   *slog.Logger
	token string

	reg      *prometheus.Registry
	embedded *events.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	rdb      redis.UniversalClient
	stats    *stats.Recorder

	gw         *gateway.Gateway
	publisher  *events.Publisher
	coord      *events.Coordinator
	instance   *events.Instance
	states     *purge.States
	queue      *purge.Queue
	dispatcher *purge.Dispatcher
	audit      *audit.Log
	web        *web.Server

	gwLn, adminLn net.Listener
	tmpDir        string
	closers       []func()
}

// newApp builds every part from f (already merged with flags and
// environment and validated) and binds the listeners, so that a bad address
// fails before anything runs.
func newApp(ctx context.Context, f *config.File, token string, logger *slog.Logger) (a *app, err error) {
	a = &app{file: f, log: logger, token: token, reg: prometheus.NewRegistry(), stats: stats.New()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := a.connectNATS(ctx); err != nil {
		return nil, err
	}
	if err := a.buildGateway(ctx); err != nil {
		return nil, err
	}
	if err := a.buildEvents(ctx); err != nil {
		return nil, err
	}
	if err := a.buildWeb(); err != nil {
		return nil, err
	}
	if a.gwLn, err = net.Listen("tcp", cmpOr(f.Listen, defaultListen)); err != nil {
		return nil, fmt.Errorf("gateway listener: %w", err)
	}
	if a.adminLn, err = net.Listen("tcp", cmpOr(f.AdminListen, defaultAdminListen)); err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	return a, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (a *app) connectNATS(ctx context.Context) error {
	url := a.file.NATS.URL
	if url == "" {
		dir := a.file.DataDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "cachegate-")
			if err != nil {
				return fmt.Errorf("data dir: %w", err)
			}
			a.tmpDir, dir = tmp, tmp
		}
		emb, err := events.StartEmbedded(ctx, events.EmbeddedConfig{
			Listen:   cmpOr(a.file.NATS.EmbeddedListen, events.DefaultEmbeddedListen),
			StoreDir: filepath.Join(dir, "nats"),
		})
		if err != nil {
			return fmt.Errorf("embedded NATS: %w", err)
		}
		a.embedded, url = emb, emb.URL()
	}
	opts := []nats.Option{
		nats.Name("cachegate"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if a.file.NATS.Credentials != "" {
		opts = append(opts, nats.UserCredentials(a.file.NATS.Credentials))
	}
	if tok := string(a.file.NATS.Token); tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	a.nc = nc
	if a.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := events.Setup(ctx, a.js, events.StreamConfig{}); err != nil {
		return fmt.Errorf("event streams: %w", err)
	}
	if a.audit, err = audit.Open(ctx, a.js, 0); err != nil {
		return err
	}
	return nil
}

func (a *app) buildGateway(ctx context.Context) error {
	f := a.file
	origin, err := url.Parse(f.Origin)
	if err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	l1, err := memstore.New(memstore.Config{MaxBytes: f.L1.MaxBytes})
	if err != nil {
		return fmt.Errorf("L1: %w", err)
	}
	cfg := gateway.Config{
		Origin:         origin,
		CacheName:      f.CacheNameOrDefault(),
		L1:             l1,
		SessionCookies: f.SessionCookies,
		MaxObjectSize:  f.Limits.MaxObjectSize,
		MaxHeaderBytes: int(f.Limits.MaxHeaderBytes),
		OriginTimeout:  f.Limits.OriginTimeout,
		Stats:          a.stats,
		Logger:         a.log.With("component", "gateway"),
		Metrics:        a.reg,
	}
	policy, err := headers.CompilePolicy(f.Policy())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	cfg.Policy = policy
	if p := f.CDN.Provider; p != "" && p != config.ProviderNone {
		em, err := headers.NewTagEmitter(headers.TagEmitterConfig{Provider: p, Logger: a.log.With("component", "tags"), Registerer: a.reg})
		if err != nil {
			return fmt.Errorf("CDN tag header: %w", err)
		}
		cfg.TagEmitter = em
	}
	if f.Redis.Enabled() {
		rc := redisstore.Config{
			URL: string(f.Redis.URL), Addrs: f.Redis.Addrs, MasterName: f.Redis.MasterName,
			Username: f.Redis.Username, Password: string(f.Redis.Password), DB: f.Redis.DB,
			Prefix: f.Redis.KeyPrefix,
		}
		rdb, err := redisstore.NewClient(rc)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		a.rdb = rdb
		l2, err := redisstore.New(rdb, rc, a.log.With("component", "redis"))
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		cfg.L2, cfg.FillLock = l2, l2
		// Not fatal: the gateway degrades to L1 + origin and recovers.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := rdb.Ping(pctx).Err(); err != nil {
			a.log.Warn("redis not reachable at start; serving from L1 and origin until it is", "err", err)
		}
		cancel()
	}
	if a.gw, err = gateway.New(cfg); err != nil {
		return err
	}
	return nil
}

func (a *app) buildEvents(ctx context.Context) error {
	f := a.file
	var err error
	if a.states, err = purge.OpenStates(ctx, a.js, purge.StatesConfig{}); err != nil {
		return fmt.Errorf("purge states: %w", err)
	}
	providers, err := buildProviders(f, a.log, a.reg)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(providers))
	for _, p := range providers {
		names = append(names, p.Purger.Name())
	}
	var queue events.PurgeQueue
	if len(providers) > 0 {
		if a.queue, err = purge.OpenQueue(ctx, a.js, a.states, purge.QueueConfig{Providers: names, Registerer: a.reg}); err != nil {
			return fmt.Errorf("purge queue: %w", err)
		}
		queue = a.queue
		if a.dispatcher, err = purge.NewDispatcher(a.queue, purge.DispatcherConfig{
			Providers:  providers,
			Hosts:      f.CDN.Hosts,
			Window:     f.CDN.CoalesceWindow,
			Auditor:    a.audit,
			Logger:     a.log.With("component", "purge"),
			Registerer: a.reg,
		}); err != nil {
			return fmt.Errorf("purge dispatcher: %w", err)
		}
	}
	rules := make([]events.Rule, len(f.Events.Rules))
	for i, r := range f.Events.Rules {
		rules[i] = events.Rule(r)
	}
	mapper, err := events.NewMapper(rules)
	if err != nil {
		return fmt.Errorf("event rules: %w", err)
	}
	cc := events.CoordinatorConfig{
		Mapper:     mapper,
		States:     a.states,
		Audit:      a.audit,
		Logger:     a.log.With("component", "coordinator"),
		Registerer: a.reg,
	}
	if f.Redis.Enabled() {
		cc.Shared = a.gw
	}
	if queue != nil {
		cc.Queue = queue
	}
	if a.coord, err = events.NewCoordinator(a.js, cc); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if a.instance, err = events.NewInstance(a.js, a.gw, events.InstanceConfig{
		Logger: a.log.With("component", "instance"), Registerer: a.reg,
	}); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if a.publisher, err = events.NewPublisher(a.js, a.nc, events.PublisherConfig{}); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	return nil
}

func (a *app) buildWeb() error {
	adapters := &webAdapters{publisher: a.publisher, states: a.states, audit: a.audit, coord: a.coord}
	s, err := web.New(web.Config{
		Token:       a.token,
		Stats:       a.stats,
		Events:      adapters,
		Purges:      adapters,
		Audit:       a.audit,
		DeadLetters: adapters,
		Gatherer:    a.reg,
		Registerer:  a.reg,
		Ready:       a.ready,
		Logger:      a.log.With("component", "admin"),
	})
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	a.web = s
	return nil
}

// ready: the event bus is the one part without which invalidations stop.
func (a *app) ready(ctx context.Context) error {
	if !a.nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	return nil
}

// GatewayAddr and AdminAddr are the addresses actually bound.
func (a *app) GatewayAddr() string { return a.gwLn.Addr().String() }
func (a *app) AdminAddr() string   { return a.adminLn.Addr().String() }

// NATSURL is the event bus's client URL.
func (a *app) NATSURL() string { return a.nc.ConnectedUrlRedacted() }

// run serves until ctx is cancelled, then shuts everything down in order:
// listeners first (no new requests), then the event and purge loops.
func (a *app) run(ctx context.Context) error {
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
	gwSrv := &http.Server{Handler: a.gw.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	adminSrv := &http.Server{Handler: a.web.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}

	if err := a.instance.Start(runCtx); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	if err := a.coord.Start(runCtx); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if a.dispatcher != nil {
		goRun("purge dispatcher", a.dispatcher.Run)
	}
	goRun("admin", a.web.Run)
	goRun("gateway server", func(context.Context) error { return gwSrv.Serve(a.gwLn) })
	goRun("admin server", func(context.Context) error { return adminSrv.Serve(a.adminLn) })

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer scancel()
	_ = gwSrv.Shutdown(sctx)
	_ = adminSrv.Shutdown(sctx)
	cancel()
	wg.Wait()
	a.close()
	return runErr
}

// close releases everything newApp acquired; safe on a partial app.
func (a *app) close() {
	if a.coord != nil {
		_ = a.coord.Close()
	}
	if a.instance != nil {
		_ = a.instance.Close()
	}
	if a.gw != nil {
		_ = a.gw.Close()
	}
	for _, ln := range []net.Listener{a.gwLn, a.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if a.nc != nil {
		_ = a.nc.Drain()
		a.nc.Close()
	}
	if a.embedded != nil {
		a.embedded.Shutdown()
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	if a.tmpDir != "" {
		_ = os.RemoveAll(a.tmpDir)
	}
}

// redactURL drops credentials from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
