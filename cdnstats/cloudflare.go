package cdnstats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CloudflareGraphQLPath is the GraphQL Analytics endpoint under the v4
// API's base URL.
const CloudflareGraphQLPath = "graphql"

// cloudflareQuery asks a zone's hourly request totals since a time.
const cloudflareQuery = `query ZoneCache($zoneTag: string, $since: Time) {
  viewer {
    zones(filter: {zoneTag: $zoneTag}) {
      httpRequests1hGroups(limit: 24, filter: {datetime_geq: $since}) {
        sum { requests cachedRequests }
      }
    }
  }
}`

// Cloudflare reads a zone's cached share of requests over the last hour
// (from the start of the previous whole hour: the groups are hourly).
type Cloudflare struct {
	// BaseURL is the v4 API's ("https://api.cloudflare.com/client/v4/").
	BaseURL string
	// APIToken needs the Analytics Read permission of the zone.
	APIToken string
	Zone     string
	Client   *http.Client
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

func (c *Cloudflare) Name() string { return "cloudflare" }

type cloudflareAnswer struct {
	Data *struct {
		Viewer struct {
			Zones []struct {
				Groups []struct {
					Sum struct {
						Requests       uint64 `json:"requests"`
						CachedRequests uint64 `json:"cachedRequests"`
					} `json:"sum"`
				} `json:"httpRequests1hGroups"`
			} `json:"zones"`
		} `json:"viewer"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (c *Cloudflare) Read(ctx context.Context) (Sample, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	since := now.UTC().Truncate(time.Hour).Add(-time.Hour)
	body, _ := json.Marshal(map[string]any{
		"query":     cloudflareQuery,
		"variables": map[string]string{"zoneTag": c.Zone, "since": since.Format(time.RFC3339)},
	})
	u := strings.TrimSuffix(c.BaseURL, "/") + "/" + CloudflareGraphQLPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Sample{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.APIToken)
	req.Header.Set("Content-Type", "application/json")
	b, err := do(c.Client, req)
	if err != nil {
		return Sample{}, fmt.Errorf("cloudflare analytics: %w", err)
	}
	var a cloudflareAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return Sample{}, fmt.Errorf("cloudflare analytics: %w", err)
	}
	// GraphQL answers 200 with errors (a token without Analytics Read, an
	// unknown zone).
	if len(a.Errors) > 0 {
		return Sample{}, fmt.Errorf("cloudflare analytics: %s", a.Errors[0].Message)
	}
	if a.Data == nil || len(a.Data.Viewer.Zones) == 0 {
		return Sample{}, fmt.Errorf("cloudflare analytics: zone %s: %w", c.Zone, errNoData)
	}
	s := Sample{WindowSeconds: now.Sub(since).Seconds()}
	for _, g := range a.Data.Viewer.Zones[0].Groups {
		s.Requests += g.Sum.Requests
		s.Hits += g.Sum.CachedRequests
	}
	s.HitRatio = ratio(s.Hits, s.Requests)
	return s, nil
}
