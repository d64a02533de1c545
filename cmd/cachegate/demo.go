package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/demo/traffic"
	"github.com/cachegate/cachegate/internal/listeners"
	"github.com/cachegate/cachegate/internal/node"
)

//go:embed demo.yaml
var demoConfig []byte

// runDemo runs the whole product on embedded defaults: an embedded NATS
// server, the in-process cache (and Redis with --redis), the demo origin,
// the gateway, the admin API and dashboard, and light demo traffic.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	var o overrides
	o.register(fs)
	originListen := fs.String("origin-listen", "127.0.0.1:8081", "address of the demo origin")
	latency := fs.Duration("origin-latency", origin.DefaultLatency, "artificial latency of every origin page (0: none)")
	withTraffic := fs.Bool("traffic", true, "run the demo's light traffic generator")
	configPath := fs.String("config", "", "a config file to use instead of the built-in demo policy")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.listen == "" {
		o.listen = listeners.DefaultGateway
	}
	if o.adminListen == "" {
		o.adminListen = listeners.DefaultAdmin
	}
	var f *config.File
	var err error
	if *configPath != "" {
		f, err = config.Load(*configPath)
	} else {
		f, err = config.Parse("demo.yaml", demoConfig, nil)
	}
	if err != nil {
		printConfigErrors(stderr, err)
		return errConfigInvalid
	}
	originLn, err := net.Listen("tcp", *originListen)
	if err != nil {
		return fmt.Errorf("origin listener: %w", err)
	}
	defer originLn.Close()
	f.Origin = "http://" + originLn.Addr().String()
	o.apply(f)
	if err := f.Validate(); err != nil {
		printConfigErrors(stderr, err)
		return errConfigInvalid
	}
	logger, err := newLogger(stderr, o.logLevel, f.Log.Format)
	if err != nil {
		return err
	}
	token, generated, err := adminToken(f)
	if err != nil {
		return err
	}
	a, err := node.New(ctx, f, token, logger)
	if err != nil {
		return err
	}
	org, err := origin.New(origin.Config{
		Latency: originLatency(*latency),
		ESI:     true, // the profile page assembled from its fragments
		// In-process NATS: never unreachable, no outbox needed.
		OnEdit:        publishEdit(a.Publisher(), nil),
		OnGalleryEdit: publishGalleryEdit(a.Publisher(), nil),
		Logger:        logger.With("component", "origin"),
	})
	if err != nil {
		a.Close()
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := serveUntilDone(runCtx, originLn, org.Handler()); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("demo origin stopped", "err", err)
		}
	}()
	if *withTraffic {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := traffic.Run(runCtx, traffic.Config{
				Target:    "http://" + a.GatewayAddr(),
				Tenants:   org.Tenants(),
				EditEvery: traffic.DefaultEditEvery,
				Logger:    logger.With("component", "traffic"),
			})
			if err != nil {
				logger.Error("demo traffic stopped", "err", err)
			}
		}()
	}
	printDemoBanner(stdout, a, originLn.Addr().String(), token, generated, org.Tenants(), *withTraffic)
	err = a.Run(runCtx)
	cancel()
	wg.Wait()
	return err
}

// printDemoBanner prints the addresses and the admin token when the demo
// generated it; a token the user chose is theirs already, and a terminal's
// scrollback or a CI log is no place for it.
func printDemoBanner(w io.Writer, a *node.Node, originAddr, token string, generated bool, tenants []string, withTraffic bool) {
	_, port, _ := net.SplitHostPort(a.GatewayAddr())
	fmt.Fprintln(w, "cachegate demo is running")
	fmt.Fprintf(w, "gateway listening on %s\n", a.GatewayAddr())
	for _, t := range tenants {
		fmt.Fprintf(w, "  site %-8s http://%s.localhost:%s/\n", t, t, port)
	}
	fmt.Fprintf(w, "admin listening on %s\n", a.AdminAddr())
	fmt.Fprintf(w, "  dashboard     http://%s/\n", a.AdminAddr())
	if generated {
		fmt.Fprintf(w, "  admin token   %s\n", token)
	} else {
		fmt.Fprintln(w, "  admin token   yours (CACHEGATE_ADMIN_TOKEN or admin.token), not printed")
	}
	if m := a.MetricsAddr(); m != "" {
		fmt.Fprintf(w, "metrics listening on %s\n", m)
	}
	fmt.Fprintf(w, "origin listening on %s\n", originAddr)
	fmt.Fprintf(w, "  origin stats  http://%s/_origin/stats\n", originAddr)
	printEvents(w, a)
	if withTraffic {
		fmt.Fprintln(w, "demo traffic: on (--traffic=false turns it off)")
	}
	fmt.Fprintf(w, "try: curl -si http://acme.localhost:%s/ | grep -i cache-status   (twice)\n", port)
	fmt.Fprintf(w, "started %s; Ctrl-C stops\n", time.Now().Format(time.TimeOnly))
}
