package fastlyfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Second is one second of a service's real-time analytics, as the fake
// reports it in a record's "aggregated" object.
type Second struct {
	Requests, Hits, Miss, Pass uint64
}

// SetRealtime makes the fake's real-time analytics (GET
// /v1/channel/{service_id}/ts/h) report one record per second for service.
func (s *Server) SetRealtime(service string, seconds []Second) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.realtime == nil {
		s.realtime = map[string][]Second{}
	}
	s.realtime[service] = seconds
}

// serveRealtime answers the documented shape of the real-time analytics
// API: {"Data": [{"recorded": unix, "aggregated": {...}, "datacenter":
// {...}}], "Timestamp": unix, "AggregateDelay": seconds}. It reports
// whether r was for it.
func (s *Server) serveRealtime(w http.ResponseWriter, r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/channel/")
	if !ok || r.Method != http.MethodGet {
		return false
	}
	service, ok := strings.CutSuffix(rest, "/ts/h")
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Fastly-Key") != s.token {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"msg": "Provided credentials are missing or invalid"})
		return true
	}
	s.mu.Lock()
	seconds, known := s.realtime[service]
	s.mu.Unlock()
	if !ok || !known {
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"msg": "Record not found"})
		return true
	}
	now := time.Now().Unix()
	data := make([]any, len(seconds))
	for i, sec := range seconds {
		agg := map[string]uint64{"requests": sec.Requests, "hits": sec.Hits, "miss": sec.Miss, "pass": sec.Pass}
		data[i] = map[string]any{"recorded": now - int64(len(seconds)-i), "aggregated": agg, "datacenter": map[string]any{"AMS": agg}}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Data": data, "Timestamp": now, "AggregateDelay": 5})
	return true
}
