// Package fastlyfake is a local stand-in for Fastly's purge API following
// its documented contract: Fastly-Key auth, POST /service/{id}/purge/{key}
// answering {"status":"ok","id":...}, POST /service/{id}/purge with
// {"surrogate_keys":[...]} (at most 256) answering a purge id per key,
// POST /service/{id}/purge_all, POST /purge/{host}/{path}, and
// Fastly-Soft-Purge. Faults are injected per call (429 with Retry-After,
// 5xx, hangs, a 200 that does not say ok) and every call is recorded.
package fastlyfake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/purge/internal/faultplan"
)

// Fault is what the fake answers one call with instead of processing it.
type Fault struct {
	Status     int    // HTTP status; 200 answers {"status":"error"}
	RetryAfter string // Retry-After header, for 429
	Hang       bool   // hold the call until the client goes away
	Block      chan struct{}
}

// Call is one request the fake received.
type Call struct {
	Time    time.Time
	Service string
	Kind    string // "key", "keys", "all", "url"
	Keys    []string
	URL     string
	Soft    bool
	Status  int
	Key     string // the Fastly-Key header
}

// Server is the fake Fastly API.
type Server struct {
	srv     *httptest.Server
	token   string
	maxKeys int

	mu       sync.Mutex
	realtime map[string][]Second // analytics.go
	plan     faultplan.Plan[Fault]
	calls    []Call
	next     int
	closed   chan struct{}
}

// New starts a fake on 127.0.0.1 accepting token. Close it when done.
func New(token string) *Server {
	s := &Server{token: token, maxKeys: 256, closed: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fastlyfake: listen: %v", err))
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

// URL is the API base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake, releasing hanging calls.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Fail queues faults for the next calls, one per call, in order.
func (s *Server) Fail(f ...Fault) { s.plan.Queue(f...) }

// Down makes every call answer f (after the queued faults) until Up: an
// outage that lasts as long as the test wants.
func (s *Server) Down(f Fault) { s.plan.Down(f) }

// Up ends the outage Down began.
func (s *Server) Up() { s.plan.Up() }

// Received is the number of requests that reached the fake, hung ones
// included (Calls holds only those answered).
func (s *Server) Received() int { return s.plan.Received() }

// Calls returns a copy of every call received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ConfirmedKeys returns the keys of the calls that succeeded, by service.
func (s *Server) ConfirmedKeys() map[string][]string {
	out := map[string][]string{}
	for _, c := range s.Calls() {
		if c.Status == http.StatusOK {
			out[c.Service] = append(out[c.Service], c.Keys...)
		}
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.serveRealtime(w, r) {
		return
	}
	call := Call{Time: time.Now(), Key: r.Header.Get("Fastly-Key"), Soft: r.Header.Get("Fastly-Soft-Purge") == "1"}
	f := s.plan.Next()
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("%d-%d", time.Now().Unix(), s.next)
	s.mu.Unlock()

	status, body := s.handle(r, &call, f, id)
	if status == 0 {
		return
	}
	call.Status = status
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if f != nil && f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func errBody(msg, detail string) map[string]string {
	return map[string]string{"msg": msg, "detail": detail}
}

func (s *Server) handle(r *http.Request, call *Call, f *Fault, id string) (int, any) {
	if f != nil && f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return 0, nil
	}
	if f != nil && f.Block != nil {
		select {
		case <-f.Block:
			f = nil
		case <-r.Context().Done():
			return 0, nil
		case <-s.closed:
			return 0, nil
		}
	}
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, errBody("Method not allowed", r.Method)
	}
	if call.Key != s.token {
		return http.StatusUnauthorized, errBody("Provided credentials are missing or invalid", "")
	}
	path := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(path, "/service/"):
		rest := strings.TrimPrefix(path, "/service/")
		svc, op, _ := strings.Cut(rest, "/")
		call.Service = svc
		switch {
		case op == "purge_all":
			call.Kind = "all"
		case op == "purge":
			call.Kind = "keys"
			var body struct {
				Keys []string `json:"surrogate_keys"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Keys) == 0 {
				return http.StatusBadRequest, errBody("Bad request", "surrogate_keys must be a non-empty list")
			}
			if len(body.Keys) > s.maxKeys {
				return http.StatusBadRequest, errBody("Bad request", fmt.Sprintf("at most %d surrogate keys per request", s.maxKeys))
			}
			call.Keys = body.Keys
		case strings.HasPrefix(op, "purge/"):
			call.Kind = "key"
			k, err := url.PathUnescape(strings.TrimPrefix(op, "purge/"))
			if err != nil {
				return http.StatusBadRequest, errBody("Bad request", "bad key escape")
			}
			call.Keys = []string{k}
		default:
			return http.StatusNotFound, errBody("Record not found", path)
		}
		for _, k := range call.Keys {
			if len(k) == 0 || len(k) > 1024 {
				return http.StatusBadRequest, errBody("Bad request", "a surrogate key is 1 to 1024 bytes")
			}
		}
	case strings.HasPrefix(path, "/purge/"):
		call.Kind = "url"
		call.URL = strings.TrimPrefix(path, "/purge/")
		if host, _, _ := strings.Cut(call.URL, "/"); host == "" || !strings.Contains(host, ".") {
			return http.StatusBadRequest, errBody("Bad request", "the URL to purge needs a host")
		}
	default:
		return http.StatusNotFound, errBody("Record not found", path)
	}
	if f != nil {
		if f.Status == http.StatusOK {
			return http.StatusOK, map[string]string{"status": "error"}
		}
		return f.Status, errBody(http.StatusText(f.Status), "injected fault")
	}
	if call.Kind == "keys" {
		ids := map[string]string{}
		for i, k := range call.Keys {
			ids[k] = fmt.Sprintf("%s-%d", id, i)
		}
		return http.StatusOK, ids
	}
	return http.StatusOK, map[string]string{"status": "ok", "id": id}
}
