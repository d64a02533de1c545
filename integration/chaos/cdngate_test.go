package chaos_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

// cdnFault is what the CDN answers while an outage lasts.
type cdnFault int

const (
	cdnUp cdnFault = iota
	cdn429
	cdn5xx
	cdnSuccessFalse
	cdnHang
)

// cdnGate stands between the instances and the Cloudflare fake: while a
// fault is set it answers every purge call itself, as Cloudflare (or the
// network in front of it) does during an outage, with the documented
// envelope; otherwise it passes the call to the fake, which records what
// it confirmed. The fake's own fault queue is per call, which cannot
// express "for three minutes, whatever arrives".
type cdnGate struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu         sync.Mutex
	fault      cdnFault
	retryAfter string
	answered   int           // calls answered with a fault
	released   chan struct{} // closed when a hang ends
	n          int
}

func newCDNGate(t testing.TB, fake *cloudflarefake.Server) *cdnGate {
	t.Helper()
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	g := &cdnGate{proxy: httputil.NewSingleHostReverseProxy(target), released: make(chan struct{})}
	g.srv = httptest.NewServer(g)
	t.Cleanup(func() {
		g.set(cdnUp, "")
		g.srv.CloseClientConnections()
		g.srv.Close()
	})
	return g
}

// URL is the API base URL to configure as cdn.cloudflare.base_url.
func (g *cdnGate) URL() string { return g.srv.URL + "/client/v4/" }

// set switches the fault; ending a hang aborts the hung calls' connections,
// as a recovering network resets them.
func (g *cdnGate) set(f cdnFault, retryAfter string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fault == cdnHang && f != cdnHang {
		close(g.released)
		g.released = make(chan struct{})
	}
	g.fault, g.retryAfter = f, retryAfter
}

// faultAnswers is how many calls the gate answered with a fault.
func (g *cdnGate) faultAnswers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answered
}

func (g *cdnGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	f, retryAfter, released := g.fault, g.retryAfter, g.released
	if f != cdnUp {
		g.answered++
	}
	g.n++
	n := g.n
	g.mu.Unlock()

	type apiError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	answer := func(status int, e apiError) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"success": false, "errors": []apiError{e}, "messages": []string{}, "result": nil,
		})
	}
	switch f {
	case cdnUp:
		g.proxy.ServeHTTP(w, r)
	case cdn429:
		w.Header().Set("Retry-After", retryAfter)
		answer(http.StatusTooManyRequests, apiError{971, "Please wait and consider throttling your request speed"})
	case cdn5xx:
		status := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[n%3]
		answer(status, apiError{10000 + status, "Internal server error"})
	case cdnSuccessFalse:
		answer(http.StatusOK, apiError{10000, "Internal error, please try again"})
	case cdnHang:
		select {
		case <-r.Context().Done():
		case <-released:
			// No answer at all: the connection is reset.
			panic(http.ErrAbortHandler)
		}
	}
}
