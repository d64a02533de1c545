package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/node"
)

// overrides are the settings a command line and environment may put on top
// of a config file. Precedence: flag, then CACHEGATE_* variable, then file.
type overrides struct {
	origin, listen, adminListen string
	redisURL, natsURL           string
	natsListen, dataDir         string
	logLevel                    string
}

// register adds the shared flags; defaults come from the environment so
// that a flag left unset keeps the variable's value.
func (o *overrides) register(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "listen", envOr("CACHEGATE_LISTEN", ""), "gateway address (CACHEGATE_LISTEN; default "+node.DefaultListen+")")
	fs.StringVar(&o.adminListen, "admin-listen", envOr("CACHEGATE_ADMIN_LISTEN", ""), "admin API and dashboard address (CACHEGATE_ADMIN_LISTEN; default "+node.DefaultAdminListen+")")
	fs.StringVar(&o.redisURL, "redis", envOr("CACHEGATE_REDIS_URL", ""), "Redis URL for the shared L2, e.g. redis://127.0.0.1:6379/0 (CACHEGATE_REDIS_URL; none: L1 only)")
	fs.StringVar(&o.natsURL, "nats-url", envOr("CACHEGATE_NATS_URL", ""), "NATS URL (CACHEGATE_NATS_URL; none: an embedded server)")
	fs.StringVar(&o.natsListen, "nats-listen", envOr("CACHEGATE_NATS_LISTEN", ""), "client address of the embedded NATS server (CACHEGATE_NATS_LISTEN)")
	fs.StringVar(&o.dataDir, "data-dir", envOr("CACHEGATE_DATA_DIR", ""), "directory for the embedded NATS server's data (CACHEGATE_DATA_DIR; default: a temporary one)")
	fs.StringVar(&o.logLevel, "log-level", envOr("CACHEGATE_LOG_LEVEL", "info"), "debug, info, warn or error (CACHEGATE_LOG_LEVEL)")
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
	if o.redisURL != "" {
		f.Redis = config.Redis{URL: config.Secret(o.redisURL)}
	}
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
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
