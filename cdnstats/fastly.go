package cdnstats

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultFastlyRealtimeURL is the real-time analytics API's base URL
// (not the main API's).
const DefaultFastlyRealtimeURL = "https://rt.fastly.com"

// Fastly reads a service's last 120 seconds from the real-time analytics
// API: GET /v1/channel/{service_id}/ts/h.
type Fastly struct {
	// BaseURL is the real-time API's; empty = DefaultFastlyRealtimeURL.
	BaseURL   string
	APIToken  string
	ServiceID string
	Client    *http.Client
}

func (f *Fastly) Name() string { return "fastly" }

type fastlyAnswer struct {
	Data []struct {
		Recorded   int64 `json:"recorded"`
		Aggregated struct {
			Requests uint64 `json:"requests"`
			Hits     uint64 `json:"hits"`
			Miss     uint64 `json:"miss"`
			Pass     uint64 `json:"pass"`
		} `json:"aggregated"`
	} `json:"Data"`
	Timestamp      int64 `json:"Timestamp"`
	AggregateDelay int64 `json:"AggregateDelay"`
}

func (f *Fastly) Read(ctx context.Context) (Sample, error) {
	base := f.BaseURL
	if base == "" {
		base = DefaultFastlyRealtimeURL
	}
	u := strings.TrimSuffix(base, "/") + "/v1/channel/" + url.PathEscape(f.ServiceID) + "/ts/h"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Sample{}, err
	}
	req.Header.Set("Fastly-Key", f.APIToken)
	req.Header.Set("Accept", "application/json")
	b, err := do(f.Client, req)
	if err != nil {
		return Sample{}, fmt.Errorf("fastly real-time analytics: %w", err)
	}
	var a fastlyAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return Sample{}, fmt.Errorf("fastly real-time analytics: %w", err)
	}
	if len(a.Data) == 0 {
		return Sample{}, fmt.Errorf("fastly real-time analytics: service %s: %w", f.ServiceID, errNoData)
	}
	var s Sample
	var miss uint64
	for _, d := range a.Data {
		s.Requests += d.Aggregated.Requests
		s.Hits += d.Aggregated.Hits
		miss += d.Aggregated.Miss
	}
	// Fastly's hit ratio: hits over hits and misses (passes are not
	// cacheable, so not a miss of the cache).
	s.HitRatio = ratio(s.Hits, s.Hits+miss)
	s.WindowSeconds = float64(len(a.Data)) // one record per second
	return s, nil
}
