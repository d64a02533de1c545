// Package cloudflarefake is a local stand-in for Cloudflare's purge API,
// POST /client/v4/zones/{zone_id}/purge_cache, following its documented
// contract: bearer-token auth, exactly one kind of target per request
// (files, tags, hosts, prefixes or purge_everything), at most 100 items, a
// tag at most 1,024 printable ASCII characters, the v4 success and error
// envelopes. Faults are injected per call: 429 with Retry-After, 5xx, a
// hang until the client gives up, and HTTP 200 with "success": false. Every
// call is recorded for assertions.
package cloudflarefake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/purge/internal/faultplan"
)

// Fault is what the fake answers one call with instead of processing it.
type Fault struct {
	// Status is the HTTP status to answer (429, 500, 502, ...), or 200
	// with Code set for a "success": false envelope.
	Status int
	// RetryAfter is the Retry-After header value, for 429.
	RetryAfter string
	// Code and Message fill the error envelope.
	Code    int
	Message string
	// Hang holds the call until the client goes away or the server closes.
	Hang bool
	// Block holds the call until the channel is closed, then processes it
	// normally.
	Block chan struct{}
	// HTMLBody answers a non-JSON body (as a proxy in front of the API
	// would on a 502).
	HTMLBody bool
}

// Call is one request the fake received.
type Call struct {
	Time   time.Time
	Zone   string
	Kind   string // "tags", "files", "hosts", "prefixes", "purge_everything"
	Items  []string
	Status int
	// Success is what the envelope said.
	Success bool
	// Auth is the Authorization header the call carried.
	Auth string
}

// Server is the fake Cloudflare API.
type Server struct {
	srv      *httptest.Server
	token    string
	maxItems int

	mu        sync.Mutex
	analytics map[string]ZoneTotals // analytics.go
	plan      faultplan.Plan[Fault]
	calls     []Call
	next      int
	closed    chan struct{}
}

// New starts a fake on 127.0.0.1 accepting token. Close it when done.
func New(token string) *Server {
	s := &Server{token: token, maxItems: 100, closed: make(chan struct{})}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("cloudflarefake: listen: %v", err))
	}
	s.srv.Listener = l
	s.srv.Start()
	return s
}

// URL is the API base URL, ".../client/v4/", for option.WithBaseURL.
func (s *Server) URL() string { return s.srv.URL + "/client/v4/" }

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

// Confirmed returns the items of the calls that succeeded, by zone.
func (s *Server) Confirmed() map[string][]string {
	out := map[string][]string{}
	for _, c := range s.Calls() {
		if c.Success {
			out[c.Zone] = append(out[c.Zone], c.Items...)
		}
	}
	return out
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type envelope struct {
	Success  bool       `json:"success"`
	Errors   []apiError `json:"errors"`
	Messages []string   `json:"messages"`
	Result   any        `json:"result"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.serveGraphQL(w, r) {
		return
	}
	call := Call{Time: time.Now(), Auth: r.Header.Get("Authorization")}
	f := s.plan.Next()
	s.mu.Lock()
	s.next++
	id := fmt.Sprintf("purge-%d", s.next)
	s.mu.Unlock()

	status, env := s.handle(r, &call, f, id)
	if status == 0 {
		return // hung up
	}
	call.Status, call.Success = status, env.Success
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if f != nil && f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f != nil && f.HTMLBody {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

func fail(status, code int, msg string) (int, envelope) {
	return status, envelope{Errors: []apiError{{code, msg}}, Messages: []string{}}
}

func (s *Server) handle(r *http.Request, call *Call, f *Fault, id string) (int, envelope) {
	if f != nil && f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		return 0, envelope{}
	}
	if f != nil && f.Block != nil {
		select {
		case <-f.Block:
			f = nil
		case <-r.Context().Done():
			return 0, envelope{}
		case <-s.closed:
			return 0, envelope{}
		}
	}
	zone, ok := strings.CutPrefix(r.URL.Path, "/client/v4/zones/")
	zone, ok2 := strings.CutSuffix(zone, "/purge_cache")
	if !ok || !ok2 || zone == "" || strings.Contains(zone, "/") {
		return fail(http.StatusNotFound, 7003, "Could not route to "+r.URL.Path+", perhaps your object identifier is invalid?")
	}
	call.Zone = zone
	if r.Method != http.MethodPost {
		return fail(http.StatusMethodNotAllowed, 10000, "method not allowed")
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		return fail(http.StatusForbidden, 10000, "Authentication error")
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return fail(http.StatusBadRequest, 1012, "Request body is not valid JSON")
	}
	if len(body) != 1 {
		return fail(http.StatusBadRequest, 1012, "Request must contain exactly one of 'purge_everything', 'files', 'tags', 'hosts' or 'prefixes'")
	}
	for k, v := range body {
		call.Kind = k
		switch k {
		case "purge_everything":
			var b bool
			if json.Unmarshal(v, &b) != nil || !b {
				return fail(http.StatusBadRequest, 1012, "purge_everything must be true")
			}
		case "tags", "hosts", "prefixes", "files":
			if err := json.Unmarshal(v, &call.Items); err != nil {
				return fail(http.StatusBadRequest, 1012, k+" must be a list of strings")
			}
			if len(call.Items) == 0 {
				return fail(http.StatusBadRequest, 1012, k+" must not be empty")
			}
			if len(call.Items) > s.maxItems {
				return fail(http.StatusBadRequest, 1018, fmt.Sprintf("Only %d %s may be purged per request", s.maxItems, k))
			}
			for _, it := range call.Items {
				if msg := checkItem(k, it); msg != "" {
					return fail(http.StatusBadRequest, 1012, msg)
				}
			}
		default:
			return fail(http.StatusBadRequest, 1012, "unknown purge field "+k)
		}
	}
	if f != nil {
		if f.Status == http.StatusOK {
			env := envelope{Errors: []apiError{{f.Code, f.Message}}, Messages: []string{}}
			return http.StatusOK, env
		}
		code := f.Code
		if code == 0 {
			code = 10000 + f.Status
		}
		return fail(f.Status, code, f.Message)
	}
	return http.StatusOK, envelope{Success: true, Errors: []apiError{}, Messages: []string{}, Result: map[string]string{"id": id}}
}

func checkItem(kind, it string) string {
	switch kind {
	case "tags":
		if len(it) == 0 || len(it) > 1024 {
			return "a cache tag must be 1 to 1024 characters"
		}
		for i := 0; i < len(it); i++ {
			if it[i] < 0x20 || it[i] > 0x7e {
				return "a cache tag must be printable ASCII"
			}
		}
	case "files":
		if !strings.HasPrefix(it, "http://") && !strings.HasPrefix(it, "https://") {
			return "files must be absolute URLs: " + it
		}
	case "prefixes":
		if strings.Contains(it, "://") || !strings.Contains(it, "/") {
			return "a prefix is host and path without scheme: " + it
		}
	case "hosts":
		if strings.ContainsAny(it, "/:") {
			return "a host is a hostname: " + it
		}
	}
	return ""
}
