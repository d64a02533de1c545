package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// login posts the token to /login and returns the session cookie.
func login(t testing.TB, e *env, token string) (*http.Response, *http.Cookie) {
	t.Helper()
	client := *e.ts.Client() // a copy: the server's client is shared
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(e.ts.URL+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return resp, c
		}
	}
	return resp, nil
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// dashboardCSRF loads the dashboard with the session and returns the CSRF
// token it carries.
func dashboardCSRF(t testing.TB, e *env, c *http.Cookie) string {
	t.Helper()
	code, h, b := e.do(t, "GET", "/", "", cookie(c))
	if code != 200 {
		t.Fatalf("dashboard: %d", code)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	m := csrfMeta.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF meta tag in the dashboard")
	}
	return string(m[1])
}

func TestLoginSetsSessionCookie(t *testing.T) {
	e := newEnv(t, nil)
	resp, c := login(t, e, testToken)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge != int(DefaultSessionTTL.Seconds()) {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP, Max-Age of the TTL", c)
	}
	if strings.Contains(c.Value, testToken) || strings.Contains(resp.Header.Get("Location"), "token") {
		t.Fatal("the token leaks into the cookie or the URL")
	}

	e2 := newEnv(t, func(c *Config) { c.SecureCookies = true })
	if _, c := login(t, e2, testToken); c == nil || !c.Secure {
		t.Fatalf("SecureCookies: cookie %+v", c)
	}
}

func TestLoginOverTLSSetsSecure(t *testing.T) {
	e := newEnv(t, nil)
	ts := httptest.NewTLSServer(e.srv.Handler())
	defer ts.Close()
	e.ts = ts
	if _, c := login(t, e, testToken); c == nil || !c.Secure {
		t.Fatalf("cookie over TLS %+v, want Secure", c)
	}
}

func TestLoginRefused(t *testing.T) {
	e := newEnv(t, nil)
	const guess = "a-wrong-guess-of-the-token"
	resp, c := login(t, e, guess)
	if resp.StatusCode != http.StatusUnauthorized || c != nil {
		t.Fatalf("wrong token: %d, cookie %v", resp.StatusCode, c)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "wrong token") || strings.Contains(logs, guess) {
		t.Fatalf("log:\n%s", logs)
	}
	// A login form posted from another site is refused.
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader("token="+testToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	r, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", r.StatusCode)
	}
}

func TestDashboardNeedsLogin(t *testing.T) {
	e := newEnv(t, nil)
	client := *e.ts.Client() // a copy: the server's client is shared
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(e.ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("dashboard without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, _, b := e.do(t, "GET", "/login", "")
	if code != 200 || !strings.Contains(string(b), `name="token"`) {
		t.Fatalf("login page: %d", code)
	}
	for _, asset := range []string{"/static/app.js", "/static/style.css", "/static/favicon.svg"} {
		if code, _, _ := e.do(t, "GET", asset, ""); code != 200 {
			t.Errorf("%s: %d", asset, code)
		}
	}
}

// A cookie-authenticated request that changes state needs the session's
// CSRF token; reads do not.
func TestSessionCSRF(t *testing.T) {
	e := newEnv(t, nil)
	_, c := login(t, e, testToken)
	csrf := dashboardCSRF(t, e, c)
	const body = `{"tenant":"acme","tags":["company:acme"]}`

	if code, _, b := e.do(t, "GET", "/api/v1/stats", "", cookie(c)); code != 200 {
		t.Fatalf("GET with the session: %d %s", code, b)
	}
	cases := []struct {
		name string
		opts []reqOpt
		code int
	}{
		{"no CSRF token", []reqOpt{cookie(c)}, 403},
		{"wrong CSRF token", []reqOpt{cookie(c), header(CSRFHeader, "x"+csrf)}, 403},
		{"other origin", []reqOpt{cookie(c), header(CSRFHeader, csrf), header("Origin", "https://evil.example")}, 403},
		{"cross-site fetch", []reqOpt{cookie(c), header(CSRFHeader, csrf), header("Sec-Fetch-Site", "cross-site")}, 403},
		{"null origin from another site", []reqOpt{cookie(c), header(CSRFHeader, csrf), header("Origin", "null"), header("Sec-Fetch-Site", "same-site")}, 403},
		{"CSRF token", []reqOpt{cookie(c), header(CSRFHeader, csrf)}, 202},
		{"null origin, same-origin fetch", []reqOpt{cookie(c), header(CSRFHeader, csrf), header("Origin", "null"), header("Sec-Fetch-Site", "same-origin")}, 202},
		{"same origin", []reqOpt{cookie(c), header(CSRFHeader, csrf), header("Origin", e.ts.URL)}, 202},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := e.do(t, "POST", "/api/v1/purge", body, tc.opts...)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, b)
			}
			if code == 403 && !strings.Contains(decode[errBody](t, b).Error, "CSRF") {
				t.Fatalf("403 body %s", b)
			}
		})
	}
	if _, actor := e.purger.last(); actor != "dashboard:127.0.0.1" {
		t.Errorf("actor %q", actor)
	}
	if !strings.Contains(e.logs.String(), "CSRF") {
		t.Error("CSRF refusals are not logged")
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	_, c := login(t, e, testToken)
	csrf := dashboardCSRF(t, e, c)

	if code, _, _ := e.do(t, "POST", "/logout", "", cookie(c)); code != 403 {
		t.Fatalf("logout without CSRF: %d", code)
	}
	code, h, _ := e.do(t, "POST", "/logout", "csrf_token="+csrf, cookie(c),
		header("Content-Type", "application/x-www-form-urlencoded"))
	// The client follows the redirect to the login page.
	if code != 200 || h.Get("Content-Security-Policy") == "" {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := e.do(t, "GET", "/api/v1/stats", "", cookie(c)); code != 401 {
		t.Fatalf("the session outlived the logout: %d", code)
	}
}

// A browser-like client: log in, follow redirects, keep the cookie.
func TestLoginFlowWithCookieJar(t *testing.T) {
	e := newEnv(t, nil)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.PostForm(e.ts.URL+"/login", url.Values{"token": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !csrfMeta.Match(b) || resp.Request.URL.Path != "/" {
		t.Fatalf("after login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	mem := newMemSessions(2)
	ss := &sessions{store: mem, ttl: time.Hour}
	a, sa, _ := ss.create(ctx, now)
	b, _, _ := ss.create(ctx, now.Add(time.Second))
	if got, ok, _ := ss.get(ctx, a, now); !ok || got != sa {
		t.Fatal("session a not found")
	}
	if _, ok := mem.byKey[a]; ok {
		t.Fatal("the store holds the cookie itself, not its hash")
	}
	if _, ok, _ := ss.get(ctx, a, now.Add(time.Hour)); ok {
		t.Fatal("session a outlived its TTL")
	}
	if len(mem.byKey) != 1 {
		t.Fatalf("an expired session stays in the store: %d", len(mem.byKey))
	}
	// Bounded: a third session evicts the oldest.
	ss.create(ctx, now.Add(2*time.Second))
	c, _, _ := ss.create(ctx, now.Add(3*time.Second))
	if _, ok, _ := ss.get(ctx, b, now); ok || len(mem.byKey) != 2 {
		t.Fatalf("sessions not bounded: %d", len(mem.byKey))
	}
	if _, ok, _ := ss.get(ctx, c, now); !ok {
		t.Fatal("the newest session was evicted")
	}
	ss.expire(now.Add(2 * time.Hour))
	if len(mem.byKey) != 0 {
		t.Fatalf("expire left %d sessions", len(mem.byKey))
	}
}

// A client that keeps guessing the token is throttled: after a burst of
// failures every attempt from its address gets 429 with Retry-After, even
// with the right token, on the API and on the login form; another address
// is not affected.
func TestFailedLoginsAreThrottled(t *testing.T) {
	e := newEnv(t, nil)
	var got []int
	for range failBurst + 5 {
		code, _, _ := e.do(t, "GET", "/api/v1/stats", "", bearer("not-the-token-0123456789"))
		got = append(got, code)
	}
	for i, c := range got {
		want := http.StatusUnauthorized
		if i >= failBurst {
			want = http.StatusTooManyRequests
		}
		if c != want {
			t.Fatalf("attempt %d: %d, want %d (all: %v)", i+1, c, want, got)
		}
	}
	code, h, _ := e.do(t, "GET", "/api/v1/stats", "", bearer(testToken))
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("the right token from a throttled address: %d %v", code, h)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader("token="+testToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.ts.URL)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("login form from a throttled address: %d", resp.StatusCode)
	}
	// The allowance refills at one attempt per failEvery.
	th := e.srv.throttle
	later := time.Now().Add(failEvery + time.Second)
	if w := th.wait("127.0.0.1", later); w != 0 {
		t.Fatalf("still throttled %v after one refill period", w)
	}
	if w := th.wait("192.0.2.7", time.Now()); w != 0 {
		t.Fatalf("another address throttled: %v", w)
	}
}

func TestThrottleIsBounded(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	for i := range maxThrottled + 100 {
		th.failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := len(th.hosts); n > maxThrottled {
		t.Fatalf("%d addresses remembered, at most %d", n, maxThrottled)
	}
}
