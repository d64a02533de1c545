package cloudflarefake

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ZoneTotals are the figures the fake's GraphQL Analytics API reports for
// a zone: one hourly group of httpRequests1hGroups.
type ZoneTotals struct {
	Requests, CachedRequests uint64
}

// SetAnalytics makes the fake's GraphQL Analytics endpoint (POST
// /client/v4/graphql) report totals for zone.
func (s *Server) SetAnalytics(zone string, t ZoneTotals) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.analytics == nil {
		s.analytics = map[string]ZoneTotals{}
	}
	s.analytics[zone] = t
}

// serveGraphQL answers the documented shape of the GraphQL Analytics API:
// HTTP 200 with {"data": {"viewer": {"zones": [{"httpRequests1hGroups":
// [{"sum": {...}}]}]}}, "errors": null}, and HTTP 200 with "data": null
// and "errors" for a bad token or query, as GraphQL does. It reports
// whether r was for it.
func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/client/v4/graphql") {
		return false
	}
	var q struct {
		Query     string            `json:"query"`
		Variables map[string]string `json:"variables"`
	}
	w.Header().Set("Content-Type", "application/json")
	errorsOnly := func(msg string) {
		_ = json.NewEncoder(w).Encode(map[string]any{"data": nil, "errors": []map[string]any{{"message": msg}}})
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		errorsOnly("not authorized for that account")
		return true
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || !strings.Contains(q.Query, "httpRequests1hGroups") ||
		q.Variables["zoneTag"] == "" || q.Variables["since"] == "" {
		errorsOnly("the fake answers httpRequests1hGroups of one zoneTag since a time")
		return true
	}
	s.mu.Lock()
	t, ok := s.analytics[q.Variables["zoneTag"]]
	s.mu.Unlock()
	zones := []any{}
	if ok {
		zones = append(zones, map[string]any{"httpRequests1hGroups": []any{
			map[string]any{"sum": map[string]uint64{"requests": t.Requests, "cachedRequests": t.CachedRequests}},
		}})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"viewer": map[string]any{"zones": zones}}, "errors": nil})
	return true
}
