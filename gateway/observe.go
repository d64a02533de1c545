package gateway

import (
	"bufio"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cachegate/cachegate/internal/requestid"
)

// HeaderRequestID carries the request id: kept from the client when it is
// a valid id, generated otherwise, sent to the origin and returned to the
// client, and logged in the access log (requestid owns the rules).
const HeaderRequestID = requestid.Header

// observation is what one request's path through the gateway reports to
// its access log line and metrics. The origin fields are atomic: a fill
// detached from a client that left may still report after ServeHTTP
// returned.
type observation struct {
	id       []string // X-Request-Id's value, set before serve
	outcome  atomic.Pointer[outcomeSeries]
	originNS atomic.Int64
	tenant   string
	route    string
	// background marks a refetch of warming: not counted as a client's
	// request nor tracked as one.
	background bool
	// arrival is when ServeHTTP received the request; zero once taken
	// (requestNow).
	arrival time.Time
	// fresh: the request was a fresh hit, which hands its writer and
	// observation to nothing that outlives ServeHTTP (no fill, no
	// revalidation), so ServeHTTP may recycle them.
	fresh bool
}

func (o *observation) setOrigin(d time.Duration) {
	if o != nil {
		o.originNS.Store(int64(d))
	}
}

// observedWriter records the status and body bytes of the response, and
// sets the request id on the header as it is sent: a stored entry's header
// (copied into the response) may hold the id of the request that filled it.
type observedWriter struct {
	http.ResponseWriter
	id     []string // the X-Request-Id value, shared with the request (newID)
	status int
	bytes  int64
	// obs lives here so that a request allocates one object for both.
	obs      observation
	hijacked bool // the connection was taken over (an upgrade)
	// esi holds back a response to assemble (esi.go), up to esiLimit;
	// esiBuf is where it first points, so holding one allocates nothing.
	esi      *esiBuffer
	esiLimit int64
	esiBuf   esiBuffer
}

func (w *observedWriter) WriteHeader(code int) {
	if w.holdESI(code) {
		return
	}
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		w.Header()[HeaderRequestID] = w.id
	} else if code < 200 {
		w.Header()[HeaderRequestID] = w.id
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *observedWriter) Write(p []byte) (int, error) {
	if w.esi != nil {
		return w.esi.Write(p)
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush and Unwrap keep streaming and http.ResponseController working
// through the wrapper.
func (w *observedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && w.esi == nil {
		if w.status == 0 {
			w.WriteHeader(http.StatusOK)
		}
		f.Flush()
	}
}

func (w *observedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack passes a connection upgrade through: the proxy writes the 101
// itself, with the header as it is now, once it holds the connection.
func (w *observedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		w.hijacked = true
		if w.status == 0 {
			w.status = http.StatusSwitchingProtocols
			w.Header()[HeaderRequestID] = w.id
		}
		return h.Hijack()
	}
	return nil, nil, errors.New("gateway: response writer cannot hijack")
}

// idValue is a request's X-Request-Id field value: the one-element slice
// the headers hold and a generated id's bytes, in one allocation. It is
// never recycled, unlike the writer: a handler wrapping the gateway may read
// the response's header after ServeHTTP returns.
type idValue struct {
	cell [1]string
	buf  [requestid.Len]byte
}

// newID is the value for a client's id: kept when valid
// (requestid.FromClient), generated otherwise. One value slice serves the
// response and the origin request (rewrite); nothing appends to it, and
// the client's request is not modified.
func newID(client string) []string {
	v := new(idValue)
	if requestid.Valid(client) {
		v.cell[0] = client
	} else {
		requestid.Generate(&v.buf)
		// buf is never written again.
		v.cell[0] = unsafe.String(&v.buf[0], len(v.buf))
	}
	return v.cell[:]
}

// ServeHTTP serves one request (serve) and observes it: request id, the
// client latency by cache outcome, the response's status class, and the
// access log line when it is on and the request is sampled.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ow, _ := g.writers.Get().(*observedWriter)
	if ow == nil {
		ow = new(observedWriter)
	}
	ow.ResponseWriter, ow.esiLimit = w, g.cfg.MaxObjectSize
	// The header's names are canonical (net/http, echo) and so is
	// HeaderRequestID: indexing skips Get's canonicalization.
	ow.id = newID(firstValue(r.Header[HeaderRequestID]))
	obs := &ow.obs
	obs.id, obs.arrival = ow.id, start
	g.serve(ow, r, obs)
	if ow.esi != nil {
		g.finishESI(ow, r, obs)
	}
	if ow.status == 0 && !ow.hijacked {
		ow.WriteHeader(http.StatusOK)
	}
	elapsed := time.Since(start)
	outcome := obs.outcome.Load()
	if outcome == nil {
		outcome = g.m.outcomes[outcomeError]
	}
	g.m.observe(outcome, ow.status, elapsed)
	if g.cfg.AccessLog != nil && g.sampled(ow.status) {
		g.logAccess(r, ow, outcome, elapsed)
	}
	if obs.fresh && ow.esi == nil && !ow.hijacked {
		// Nothing the response's header holds points into ow (newID).
		*ow = observedWriter{}
		g.writers.Put(ow)
	}
}

// logAccess writes r's access log line.
func (g *Gateway) logAccess(r *http.Request, ow *observedWriter, outcome *outcomeSeries, elapsed time.Duration) {
	obs, id := &ow.obs, ow.id[0]
	g.cfg.AccessLog.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
		slog.String("tenant", obs.tenant),
		slog.String("route", obs.route),
		slog.String("cache", outcome.name),
		slog.String("cache_status", ow.Header().Get("Cache-Status")),
		slog.Int("status", ow.status),
		slog.Int64("bytes", ow.bytes),
		slog.Float64("origin_ms", float64(obs.originNS.Load())/1e6),
		slog.Float64("duration_ms", float64(elapsed.Nanoseconds())/1e6),
	)
}

// sampled decides whether a request is logged: every server error, and
// the others at AccessLogSample.
func (g *Gateway) sampled(status int) bool {
	s := g.cfg.AccessLogSample
	return status >= 500 || s >= 1 || s > 0 && rand.Float64() < s
}

// statusClass is "2xx" for 204, and so on.
func statusClass(code int) string { return statusName(statusIndex(code)) }

// statusIndex is the position of code's class in statusClasses, or
// len(statusClasses) for "other".
func statusIndex(code int) int {
	if code < 100 || code > 599 {
		return len(statusClasses)
	}
	return code/100 - 1
}

// statusName is the class at statusIndex i.
func statusName(i int) string {
	if i >= len(statusClasses) {
		return "other"
	}
	return statusClasses[i]
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}
