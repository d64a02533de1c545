package purge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/purge"
	"github.com/prometheus/client_golang/prometheus"
)

type namedPurger string

func (n namedPurger) Name() string                           { return string(n) }
func (namedPurger) Limits() purge.Limits                     { return purge.Limits{TagsPerCall: 1} }
func (namedPurger) Purge(context.Context, purge.Batch) error { return nil }

func TestDispatcherConfigValidate(t *testing.T) {
	p := func(name string) purge.Provider { return purge.Provider{Purger: namedPurger(name), Zone: "z"} }
	after := func(name string, inner ...string) purge.Provider {
		return purge.Provider{Purger: namedPurger(name), Zone: "z", After: inner}
	}
	tests := []struct {
		name string
		cfg  purge.DispatcherConfig
		err  string
	}{
		{"ok", purge.DispatcherConfig{Providers: []purge.Provider{p("cloudflare"), p("fastly")}}, ""},
		{"no provider", purge.DispatcherConfig{}, "at least one provider"},
		{"nil purger", purge.DispatcherConfig{Providers: []purge.Provider{{}}}, "no Purger"},
		{"twice", purge.DispatcherConfig{Providers: []purge.Provider{p("cloudflare"), p("cloudflare")}}, "twice"},
		{"layer name", purge.DispatcherConfig{Providers: []purge.Provider{p("l1")}}, "layer"},
		{"bad name", purge.DispatcherConfig{Providers: []purge.Provider{p("cf.eu")}}, "target"},
		{"bad plan", purge.DispatcherConfig{Providers: []purge.Provider{{Purger: namedPurger("cf"), Rate: purge.RateLimit{Plan: "platinum"}}}}, "plan"},
		{"ordered", purge.DispatcherConfig{Providers: []purge.Provider{after("cloudflare", "varnish"), after("fastly", "varnish"), p("varnish")}}, ""},
		{"chain", purge.DispatcherConfig{Providers: []purge.Provider{after("a", "b"), after("b", "c"), p("c")}}, ""},
		{"after unknown", purge.DispatcherConfig{Providers: []purge.Provider{after("cloudflare", "varnsh"), p("varnish")}}, `After names "varnsh", which is not a configured provider`},
		{"after itself", purge.DispatcherConfig{Providers: []purge.Provider{after("cloudflare", "cloudflare")}}, "After names itself"},
		{"after twice", purge.DispatcherConfig{Providers: []purge.Provider{after("cloudflare", "varnish", "varnish"), p("varnish")}}, `After names "varnish" twice`},
		{"cycle", purge.DispatcherConfig{Providers: []purge.Provider{after("a", "b"), after("b", "a")}}, "cycle: a after b after a"},
		{"long cycle", purge.DispatcherConfig{Providers: []purge.Provider{p("x"), after("a", "b"), after("b", "c"), after("c", "a", "x")}}, "cycle: a after b after c after a"},
		{"negative", purge.DispatcherConfig{Providers: []purge.Provider{p("cf")}, Window: -1}, "negative"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.err)
		}
	}
	if err := (purge.QueueConfig{DedupeWindow: 1}).Validate(); err == nil {
		t.Error("a dedupe window under a minute passed")
	}
	if err := (purge.StatesConfig{TTL: -1}).Validate(); err == nil {
		t.Error("a negative TTL passed")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	cfg := e.fastCfg()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	e.enqueue(tagReq("m", "acme", "a", "b", "c"))
	e.start(e.queue, cfg)
	e.waitStatus("m", "cloudflare", purge.StatusConfirmed, 5e9)
	e.queueEmpty(5e9)
	got := gathered(t, reg)
	for name, want := range map[string]float64{
		"cachegate_purge_sent_total":           1,
		"cachegate_purge_confirmed_total":      1,
		"cachegate_purge_api_calls_total":      1,
		"cachegate_purge_tags_per_call":        1,
		"cachegate_purge_confirmation_seconds": 1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], want, got)
		}
	}
}

// gathered sums reg's series by name: counter values, histogram sample
// counts and gauge values.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[f.GetName()] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[f.GetName()] += float64(m.GetHistogram().GetSampleCount())
			case m.GetGauge() != nil:
				got[f.GetName()] += m.GetGauge().GetValue()
			}
		}
	}
	return got
}
