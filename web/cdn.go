package web

import (
	"net/http"

	"github.com/cachegate/cachegate/cdnstats"
)

// CDNStatsResponse is the body of GET /api/v1/cdn/stats.
type CDNStatsResponse struct {
	// Configured is false when no provider's analytics are set up: the
	// dashboard's CDN card then says "not configured".
	Configured bool              `json:"configured"`
	Providers  []cdnstats.Sample `json:"providers"`
}

// getCDNStats is GET /api/v1/cdn/stats: the CDN's own hit ratio, read
// from each provider's analytics API (cached for a while: those APIs are
// rate limited). A provider whose analytics fail has its error shown.
func (s *Server) getCDNStats(w http.ResponseWriter, r *http.Request) error {
	resp := CDNStatsResponse{Providers: []cdnstats.Sample{}}
	if s.cfg.CDNStats != nil && s.cfg.CDNStats.Configured() {
		resp.Configured = true
		resp.Providers = s.cfg.CDNStats.Samples(r.Context())
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
