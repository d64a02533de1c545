package cdnstats

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Varnish reads the hit and miss counters of Varnish nodes from
// varnishstat's JSON (varnishstat -j), which each node serves at a URL
// (a sidecar, or the exporter an operator already runs). Both forms are
// read: Varnish 6.5 and later nest the counters under "counters", older
// releases put them at the top level.
type Varnish struct {
	// StatsURLs answer GET with varnishstat -j's output, one per node.
	StatsURLs []string
	Client    *http.Client
}

func (v *Varnish) Name() string { return "varnish" }

type varnishCounter struct {
	Value uint64 `json:"value"`
}

func (v *Varnish) Read(ctx context.Context) (Sample, error) {
	var s Sample
	var miss uint64
	for _, u := range v.StatsURLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return Sample{}, err
		}
		b, err := do(v.Client, req)
		if err != nil {
			return Sample{}, fmt.Errorf("varnish counters at %s: %w", u, err)
		}
		c, err := varnishCounters(b)
		if err != nil {
			return Sample{}, fmt.Errorf("varnish counters at %s: %w", u, err)
		}
		hit, okHit := c["MAIN.cache_hit"]
		m, okMiss := c["MAIN.cache_miss"]
		if !okHit || !okMiss {
			return Sample{}, fmt.Errorf("varnish counters at %s: no MAIN.cache_hit and MAIN.cache_miss: %w", u, errNoData)
		}
		s.Hits += hit.Value
		miss += m.Value
		s.Requests += c["MAIN.client_req"].Value
		s.WindowSeconds = max(s.WindowSeconds, float64(c["MAIN.uptime"].Value))
	}
	s.HitRatio = ratio(s.Hits, s.Hits+miss)
	return s, nil
}

// varnishCounters reads either form of varnishstat -j's output.
func varnishCounters(b []byte) (map[string]varnishCounter, error) {
	var nested struct {
		Counters map[string]varnishCounter `json:"counters"`
	}
	if err := json.Unmarshal(b, &nested); err == nil && nested.Counters != nil {
		return nested.Counters, nil
	}
	var flat map[string]json.RawMessage
	if err := json.Unmarshal(b, &flat); err != nil {
		return nil, err
	}
	out := make(map[string]varnishCounter, len(flat))
	for k, raw := range flat {
		var c varnishCounter
		if json.Unmarshal(raw, &c) == nil {
			out[k] = c
		}
	}
	return out, nil
}
