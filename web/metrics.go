package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_admin_requests_total",
			Help: "Requests to the admin listener by route pattern and status code.",
		}, []string{"route", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachegate_admin_auth_failures_total",
			Help: "Admin requests and logins refused for a missing or wrong token, session or CSRF token.",
		}, []string{"reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.authFailures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("web: register metrics: %w", err)
		}
	}
	return m, nil
}

// statusRecorder remembers the status code written; it keeps Flush and
// the rest reachable through Unwrap for http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests by the route pattern (bounded: never the raw
// path, which a client chooses).
func (s *Server) instrument(w http.ResponseWriter, r *http.Request, pattern string, h http.Handler) {
	rec := &statusRecorder{ResponseWriter: w}
	h.ServeHTTP(rec, r)
	if pattern == "" {
		pattern = "unmatched"
	}
	code := rec.code
	if code == 0 {
		code = http.StatusOK
	}
	s.metrics.requests.WithLabelValues(pattern, strconv.Itoa(code)).Inc()
}
