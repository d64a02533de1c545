// Command cachegate is the one binary of cachegate: the caching gateway
// (serve), the self-contained demo (demo), the demo origin on its own
// (origin), and the operator's tools (check-config, publish, purge, purges,
// tokens, inspect, keys, stats, tail, deadletters, version, completion, warm).
//
// This package only wires: flags and environment into configuration,
// configuration into the constructors of the other packages, and Run under a
// context that SIGINT/SIGTERM cancel.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks an error in the command line: exit code 2.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "run everything on embedded defaults: NATS, cache, demo origin, gateway, admin", runDemo},
		{"serve", "run the gateway in production mode", runServe},
		{"origin", "run the demo origin on its own", runOrigin},
		{"check-config", "validate a config file", runCheckConfig},
		{"publish", "publish a change event", runPublish},
		{"purge", "purge through the admin API; --wait follows the CDN providers' outcome", runPurge},
		{"purges", "failed CDN purges: list, show <id>, retry <id>, dismiss <id>", runPurges},
		{"tokens", "publish-only tenant tokens: create --tenant T, list, revoke <id>", runTokens},
		{"inspect", "what each cache layer holds for a URL: key, tags, age, TTL, stale windows, variants", runInspect},
		{"keys", "keys of the instance's L1 that carry a tag (--tenant, --tag, --limit)", runKeys},
		{"stats", "hit ratios per layer, tenant and route (--watch to repeat)", runStats},
		{"tail", "follow events, purges and their outcomes", runTail},
		{"deadletters", "events set aside: list, retry <seq>, edit <seq>, discard <seq>", runDeadLetters},
		{"version", "the build of this binary and, with --server, of the instance", runVersion},
		{"completion", "shell completion script: bash, zsh or fish", runCompletion},
		{"warm", "warm URLs through the admin API (--urls FILE or --sitemap URL), showing progress", runWarm},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "cachegate %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "cachegate %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "cachegate: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cachegate <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'cachegate <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cachegate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, wrapping errors as usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// envOr returns the environment variable name when set, else def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint([]string(*s)) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// errConfigInvalid follows the config's own FILE:LINE messages.
var errConfigInvalid = errors.New("the config is invalid")
