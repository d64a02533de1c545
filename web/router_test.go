package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEchoPath(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/stats":                  "/api/v1/stats",
		"/api/v1/purges/{id}/retry":      "/api/v1/purges/:id/retry",
		"/api/v1/deadletters/{seq}/edit": "/api/v1/deadletters/:seq/edit",
	} {
		if got := echoPath(in); got != want {
			t.Errorf("echoPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRequestIDOnAdminAnswers: a valid client id comes back, an invalid
// one is replaced, and an answer without one gets one.
func TestRequestIDOnAdminAnswers(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct{ sent, want string }{
		{"trace-1:abc", "trace-1:abc"},
		{"bad id with spaces", ""},
		{"", ""},
	} {
		opts := []reqOpt{bearer(testToken)}
		if tt.sent != "" {
			opts = append(opts, header("X-Request-Id", tt.sent))
		}
		_, h, _ := e.do(t, "GET", "/api/v1/stats", "", opts...)
		got := h.Get("X-Request-Id")
		if tt.want != "" && got != tt.want || tt.want == "" && (len(got) != 32 || got == tt.sent) {
			t.Errorf("sent %q: got X-Request-Id %q", tt.sent, got)
		}
	}
}

// TestPanicAnswers500: a handler that panics answers the API's JSON 500,
// logs the panic, and the server keeps serving.
func TestPanicAnswers500(t *testing.T) {
	e := newEnv(t, nil)
	rt := e.srv.newRouter()
	rt.add(rt.api, "GET /api/v1/boom", wrap(func(http.ResponseWriter, *http.Request) error { panic("boom") }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/boom", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rt.e.ServeHTTP(rec, req)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(e.logs.String(), "panicked") {
		t.Errorf("the panic is not logged:\n%s", e.logs)
	}
	if code, _, _ := e.do(t, "GET", "/healthz", ""); code != 200 {
		t.Errorf("after a panic, /healthz: %d", code)
	}
}

// TestAPIBodyLimit: a body over MaxBodyBytes is refused with 413 by the
// API group's middleware.
func TestAPIBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 64 })
	code, _, b := e.do(t, "POST", "/api/v1/purge", `{"tags":["`+strings.Repeat("a", 100)+`"]}`, bearer(testToken))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "larger than 64 bytes") {
		t.Fatalf("oversized body: %d %s", code, b)
	}
}

// TestHeadOnGetRoutes: HEAD is answered wherever GET is, as ServeMux did.
func TestHeadOnGetRoutes(t *testing.T) {
	e := newEnv(t, nil)
	for _, tt := range []struct {
		path string
		opts []reqOpt
		code int
	}{
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
		{"/api/v1/stats", []reqOpt{bearer(testToken)}, 200},
		{"/api/v1/stats", nil, 401},
	} {
		code, _, b := e.do(t, "HEAD", tt.path, "", tt.opts...)
		if code != tt.code || len(b) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes, want %d and none", tt.path, code, len(b), tt.code)
		}
	}
}
