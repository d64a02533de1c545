package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/internal/memlimit"
	"github.com/cachegate/cachegate/internal/node"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	configPath := fs.String("config", envOr("CACHEGATE_CONFIG", ""), "config file (CACHEGATE_CONFIG); optional when an origin is given")
	var o overrides
	fs.StringVar(&o.origin, "origin", envOr("CACHEGATE_ORIGIN", ""), "origin base URL, e.g. http://127.0.0.1:3000 (CACHEGATE_ORIGIN)")
	o.register(fs)
	pprofListen := fs.String("pprof-listen", envOr("CACHEGATE_PPROF_LISTEN", ""), "serve Go runtime profiles (/debug/pprof/) at this address, for profiling; off by default, bind it to loopback (CACHEGATE_PPROF_LISTEN)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := &config.File{}
	if *configPath != "" {
		loaded, err := config.Load(*configPath)
		if err != nil {
			printConfigErrors(stderr, err)
			return errConfigInvalid
		}
		f = loaded
	}
	o.apply(f)
	if f.Origin == "" {
		return fmt.Errorf("%w: no origin: give --origin, CACHEGATE_ORIGIN or a config file with origin", errUsage)
	}
	if err := f.Validate(); err != nil {
		printConfigErrors(stderr, err)
		return errConfigInvalid
	}
	logger, err := newLogger(stderr, o.logLevel, f.Log.Format)
	if err != nil {
		return err
	}
	planMemory(f, logger)
	token, generated, err := adminToken(f)
	if err != nil {
		return err
	}
	a, err := node.New(ctx, f, token, logger)
	if err != nil {
		return err
	}
	if *pprofListen != "" {
		if err := startPprof(ctx, *pprofListen, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "gateway listening on %s\n", a.GatewayAddr())
	fmt.Fprintf(stdout, "admin listening on %s\n", a.AdminAddr())
	if m := a.MetricsAddr(); m != "" {
		fmt.Fprintf(stdout, "metrics listening on %s\n", m)
	}
	printEvents(stdout, a)
	if generated {
		fmt.Fprintf(stdout, "admin token (generated; set CACHEGATE_ADMIN_TOKEN to choose one): %s\n", token)
	}
	return a.Run(ctx)
}

// planMemory sets the L1 budget, unless the file sets one, and the Go
// runtime's soft memory limit from the limit the process runs under
// (memlimit's rule), so the budget bounds the process.
func planMemory(f *config.File, logger *slog.Logger) {
	lim, err := memlimit.Detect(memlimit.DefaultCgroupRoot)
	if err != nil {
		logger.Warn("reading the memory limit; planning as if there were none", "err", err)
	}
	b := memlimit.Plan(lim, f.L1.MaxBytes, memstore.DefaultMaxBytes, gateway.DefaultFillBufferBytes)
	f.L1.MaxBytes = b.L1
	if b.Runtime > 0 {
		debug.SetMemoryLimit(b.Runtime)
	}
	logger.Info("memory plan", "l1_max_bytes", b.L1, "limit_bytes", lim.Bytes, "limit_source", lim.Source,
		"go_memory_limit", debug.SetMemoryLimit(-1))
}

// printConfigErrors prints one problem per line.
func printConfigErrors(w io.Writer, err error) {
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err)
}

// printEvents says where the event bus is and how others reach it.
func printEvents(w io.Writer, a *node.Node) {
	u := a.NATSURL()
	if u == "" {
		fmt.Fprintln(w, "events on the embedded NATS server, in-process only (--nats-listen ADDR exposes it)")
		return
	}
	fmt.Fprintf(w, "events on %s\n", u)
	if seed := a.NATSSeedFile(); seed != "" {
		fmt.Fprintf(w, "  NATS clients authenticate with the nkey seed in %s\n", seed)
	}
}
