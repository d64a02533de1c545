package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/listeners"
)

// overrides are the settings a command line and environment may put on top
// of a config file. Precedence: flag, then CACHEGATE_* variable, then file.
type overrides struct {
	origin, listen, adminListen string
	redisURL, natsURL           string
	natsListen, dataDir         string
	logLevel, logFormat         string
	metricsListen               string
	accessLog                   bool
	accessSample                float64
	// natsAuth replaces every NATS credential of the file when any of its
	// fields is set, so that a file's token and an environment's user
	// never combine.
	natsAuth config.NATS
}

// register adds the shared flags; defaults come from the environment so
// that a flag left unset keeps the variable's value.
func (o *overrides) register(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "listen", envOr("CACHEGATE_LISTEN", ""), "gateway address (CACHEGATE_LISTEN; default "+listeners.DefaultGateway+")")
	fs.StringVar(&o.adminListen, "admin-listen", envOr("CACHEGATE_ADMIN_LISTEN", ""), "admin API and dashboard address (CACHEGATE_ADMIN_LISTEN; default "+listeners.DefaultAdmin+")")
	fs.StringVar(&o.redisURL, "redis", envOr("CACHEGATE_REDIS_URL", ""), "Redis URL for the shared L2, e.g. redis://127.0.0.1:6379/0 (CACHEGATE_REDIS_URL; none: L1 only)")
	fs.StringVar(&o.natsURL, "nats-url", envOr("CACHEGATE_NATS_URL", ""), "NATS URL (CACHEGATE_NATS_URL; none: an embedded server)")
	fs.StringVar(&o.natsListen, "nats-listen", envOr("CACHEGATE_NATS_LISTEN", ""), "expose the embedded NATS server at this address; clients authenticate with the nkey seed it writes to <data dir>/nats/client.nk (CACHEGATE_NATS_LISTEN; default: in-process only, no listener)")
	fs.StringVar(&o.dataDir, "data-dir", envOr("CACHEGATE_DATA_DIR", ""), "directory for the embedded NATS server's data (CACHEGATE_DATA_DIR; default: a temporary one)")
	registerNATSAuth(fs, &o.natsAuth)
	fs.StringVar(&o.logLevel, "log-level", envOr("CACHEGATE_LOG_LEVEL", "info"), "debug, info, warn or error (CACHEGATE_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", envOr("CACHEGATE_LOG_FORMAT", ""), "text or json (CACHEGATE_LOG_FORMAT; default text)")
	fs.BoolVar(&o.accessLog, "access-log", envOr("CACHEGATE_ACCESS_LOG", "") == "true", "log one line per gateway request (CACHEGATE_ACCESS_LOG=true)")
	fs.Float64Var(&o.accessSample, "access-log-sample", 0, "fraction of requests the access log keeps, 0 to 1; server errors always (CACHEGATE_ACCESS_LOG_SAMPLE; default every request)")
	if v, err := strconv.ParseFloat(envOr("CACHEGATE_ACCESS_LOG_SAMPLE", ""), 64); err == nil {
		o.accessSample = v
	}
	fs.StringVar(&o.metricsListen, "metrics-listen", envOr("CACHEGATE_METRICS_LISTEN", ""), "also serve /metrics, unauthenticated, at this address (CACHEGATE_METRICS_LISTEN)")
}

// apply puts the set overrides on f.
func (o *overrides) apply(f *config.File) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&f.Origin, o.origin)
	set(&f.Listen, o.listen)
	set(&f.AdminListen, o.adminListen)
	set(&f.NATS.URL, o.natsURL)
	set(&f.NATS.EmbeddedListen, o.natsListen)
	set(&f.DataDir, o.dataDir)
	set(&f.Log.Format, o.logFormat)
	set(&f.MetricsListen, o.metricsListen)
	if o.accessLog {
		f.Log.Access = true
	}
	if o.accessSample != 0 {
		f.Log.AccessSample = o.accessSample
	}
	applyNATSAuth(&f.NATS, o.natsAuth)
	if o.redisURL != "" {
		f.Redis = config.Redis{URL: config.Secret(o.redisURL)}
	}
}

// registerNATSAuth adds the NATS credential flags and variables to fs,
// into the credential fields of a.
func registerNATSAuth(fs *flag.FlagSet, a *config.NATS) {
	fs.StringVar(&a.Credentials, "nats-creds", envOr("CACHEGATE_NATS_CREDS", ""), "NATS .creds file (CACHEGATE_NATS_CREDS)")
	fs.StringVar(&a.NkeySeed, "nats-nkey-seed", envOr("CACHEGATE_NATS_NKEY_SEED", ""), "NATS user nkey seed file, e.g. the embedded server's <data dir>/nats/client.nk (CACHEGATE_NATS_NKEY_SEED)")
	fs.StringVar(&a.User, "nats-user", envOr("CACHEGATE_NATS_USER", ""), "NATS user; its password only from CACHEGATE_NATS_PASSWORD (CACHEGATE_NATS_USER)")
	// Secrets only from the environment: flags show in the process list.
	a.Password = config.Secret(envOr("CACHEGATE_NATS_PASSWORD", ""))
	a.Token = config.Secret(envOr("CACHEGATE_NATS_TOKEN", ""))
}

// applyNATSAuth replaces every credential of dst by a's when a has any, so
// that a file's token and an environment's user never combine.
func applyNATSAuth(dst *config.NATS, a config.NATS) {
	if a.Credentials != "" || a.NkeySeed != "" || a.User != "" || a.Password != "" || a.Token != "" {
		dst.Credentials, dst.NkeySeed, dst.User, dst.Password, dst.Token = a.Credentials, a.NkeySeed, a.User, a.Password, a.Token
	}
}

// newLogger logs at level in format (config.LogFormatText or JSON; the
// file's format is validated with the file).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: debug, info, warn or error", errUsage, level)
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// adminToken is the configured token, CACHEGATE_ADMIN_TOKEN, or a new
// random one (generated says which).
func adminToken(f *config.File) (token string, generated bool, err error) {
	if t := os.Getenv("CACHEGATE_ADMIN_TOKEN"); t != "" {
		return t, false, nil
	}
	if t := strings.TrimSpace(string(f.Admin.Token)); t != "" {
		return t, false, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("generate admin token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), true, nil
}
