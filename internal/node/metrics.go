package node

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/gateway/memstore"
)

// Version is the cachegate version in cachegate_build_info: the main
// module's version as the Go toolchain stamped it ("(devel)" for a build
// from a work tree).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Revision is the VCS revision the binary was built from; "" when unknown.
func Revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}

// l2State is what the metrics read of the L2 layer, Redis or memcached.
type l2State interface {
	Available() bool
	Errors() uint64
}

// stateMetrics are read from the parts when Prometheus scrapes, so that
// the request path pays nothing for them and every series exists from the
// start (an L1-only node reports L2 as not configured, not as missing).
func (n *Node) stateMetrics(l1 *memstore.Store, l2 l2State) []prometheus.Collector {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "cachegate_build_info",
		Help:        "Always 1; the labels say which cachegate build runs.",
		ConstLabels: prometheus.Labels{"version": Version(), "revision": Revision()},
	})
	build.Set(1)
	return []prometheus.Collector{
		build,
		gauge("cachegate_l1_entries", "Entries in this instance's in-process cache (L1), approximately.",
			func() float64 { return float64(l1.Len()) }),
		gauge("cachegate_l1_bytes", "Bytes the L1 entries weigh (body, header, key and bookkeeping).",
			func() float64 { return float64(l1.WeightedSize()) }),
		counter("cachegate_l1_evictions_total", "L1 entries dropped to stay within l1.max_bytes.",
			func() float64 { return float64(l1.Evictions()) }),
		gauge("cachegate_l2_configured", "1 when a shared cache (L2: Redis or memcached) is configured.",
			func() float64 { return b(l2 != nil) }),
		gauge("cachegate_l2_breaker_open", "1 while the L2 circuit breaker is open: L2 failed and is skipped (serving from L1 and origin).",
			func() float64 { return b(l2 != nil && !l2.Available()) }),
		counter("cachegate_l2_errors_total", "Calls to the shared cache (L2) that failed.",
			func() float64 {
				if l2 == nil {
					return 0
				}
				return float64(l2.Errors())
			}),
		gauge("cachegate_nats_connected", "1 while this instance is connected to NATS.",
			func() float64 { return b(n.nc != nil && n.nc.IsConnected()) }),
		counter("cachegate_nats_reconnects_total", "Times this instance reconnected to NATS.",
			func() float64 {
				if n.nc == nil {
					return 0
				}
				return float64(n.nc.Stats().Reconnects)
			}),
	}
}
