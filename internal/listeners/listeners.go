// Package listeners owns the addresses one cachegate process listens on:
// the gateway's, the admin API's and the optional metrics listener. It
// decides their defaults, checks them (the config loader places its
// problems on the file's lines) and opens them, so that what check-config
// accepts is exactly what the process can bind.
//
// The embedded NATS server's listener is the natsserver package's.
package listeners

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/cachegate/cachegate/internal/setting"
)

// The defaults bind loopback only: exposing the gateway or the admin API is
// the operator's choice.
const (
	DefaultGateway = "127.0.0.1:8080"
	DefaultAdmin   = "127.0.0.1:9090"
)

// Config is the listen addresses, as the config file names them; an empty
// address takes its default (Metrics: no metrics listener of its own).
type Config struct {
	Gateway string // listen
	Admin   string // admin_listen
	Metrics string // metrics_listen
}

// Addr checks a host:port listen address; port 0 means any free port and an
// empty host every interface.
func Addr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("address %q must be host:port (e.g. 127.0.0.1:8080)", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("address %q: invalid port %q", s, port)
	}
	return nil
}

// Validate reports each problem, named as the config file spells it.
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ field, addr string }{{"listen", c.Gateway}, {"admin_listen", c.Admin}, {"metrics_listen", c.Metrics}} {
		if a.addr != "" {
			if err := Addr(a.addr); err != nil {
				errs = append(errs, setting.Errorf(a.field, "%v", err))
			}
		}
	}
	// Port 0 is a new free port on every bind: only fixed ports can clash.
	gw, admin := c.gateway(), c.admin()
	if gw == admin && !anyPort(gw) {
		errs = append(errs, setting.Errorf("admin_listen", "the same address as listen (%s)", gw))
	}
	if c.Metrics != "" && !anyPort(c.Metrics) && (c.Metrics == gw || c.Metrics == admin) {
		errs = append(errs, setting.Errorf("metrics_listen", "the same address as listen or admin_listen (%s)", c.Metrics))
	}
	return errors.Join(errs...)
}

func (c Config) gateway() string { return cmpOr(c.Gateway, DefaultGateway) }
func (c Config) admin() string   { return cmpOr(c.Admin, DefaultAdmin) }

// Open binds the listeners; metrics is nil when Metrics is empty. On an
// error, the ones already open are closed.
func (c Config) Open() (gateway, admin, metrics net.Listener, err error) {
	if gateway, err = net.Listen("tcp", c.gateway()); err != nil {
		return nil, nil, nil, fmt.Errorf("gateway listener: %w", err)
	}
	if admin, err = net.Listen("tcp", c.admin()); err != nil {
		gateway.Close()
		return nil, nil, nil, fmt.Errorf("admin listener: %w", err)
	}
	if c.Metrics != "" {
		if metrics, err = net.Listen("tcp", c.Metrics); err != nil {
			gateway.Close()
			admin.Close()
			return nil, nil, nil, fmt.Errorf("metrics listener: %w", err)
		}
	}
	return gateway, admin, metrics, nil
}

func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
