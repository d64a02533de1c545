package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/cachegate/cachegate/invalidation"
)

// Sentinel errors that adapters wrap to choose the status code; see the
// package documentation.
var (
	ErrBadRequest  = errors.New("bad request")
	ErrNotFound    = errors.New("not found")
	ErrTimeout     = errors.New("timed out waiting for the invalidation to be applied")
	ErrUnavailable = errors.New("unavailable")
	// ErrL2Pending: a wait ended with the invalidation applied to every
	// instance's L1 while L2 was unreachable (events.ErrL2Pending).
	ErrL2Pending = errors.New("applied except in L2, which was unreachable")
	// ErrNotAccepted: the event or purge was not made durable; nothing
	// will apply it unless the client sends it again.
	ErrNotAccepted = errors.New("not accepted")
)

// RetryAfterSeconds is the Retry-After of a 503.
const RetryAfterSeconds = 5

// httpError is an error with a status code and a message safe to show.
type httpError struct {
	code int
	msg  string
	// id is the purge or event id a 504 refers to.
	id string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, msg string) error { return &httpError{code: code, msg: msg} }

// idError carries the id of the purge or event that err is about, so the
// client of a failed ?wait=1 call still learns what to poll.
type idError struct {
	id  string
	err error
}

func (e *idError) Error() string { return e.err.Error() }
func (e *idError) Unwrap() error { return e.err }

func withID(id string, err error) error {
	if err == nil || id == "" {
		return err
	}
	return &idError{id: id, err: err}
}

// classify maps an error to its status code and client-facing message.
func classify(err error) (code int, msg, id string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.code, he.msg, he.id
	}
	var ie *idError
	if errors.As(err, &ie) {
		id = ie.id
	}
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, invalidation.ErrInvalid):
		return http.StatusBadRequest, err.Error(), id
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, err.Error(), id
	case errors.Is(err, ErrTimeout):
		// Adapters wrap ErrTimeout only once the event is durable.
		return http.StatusGatewayTimeout, "timed out waiting for the invalidation to be applied; it is durable and will be applied later", id
	case errors.Is(err, ErrNotAccepted):
		return http.StatusServiceUnavailable, "not accepted, nothing will apply it: " + err.Error(), id
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, err.Error(), id
	}
	return http.StatusInternalServerError, "internal error (see the server log)", id
}

// handlerFunc is an HTTP handler that returns its error for handle to render.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// writeError renders err as {"error": message} with its status code;
// server-side errors are logged with their details.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, id := classify(err)
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "admin request failed",
		"method", r.Method, "path", r.URL.Path, "status", code, "request_id", requestIDOf(r.Context()), "err", err)
	body := map[string]any{"error": msg}
	if id != "" {
		body["id"] = id
	}
	if errors.Is(err, ErrNotAccepted) {
		body["accepted"] = false
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}
